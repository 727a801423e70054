// The client restart tracker takes a new policy in place (an in-place job
// update changed `restart`): the next exit is judged by it, counting in the
// window already open, as Nomad's restart tracker SetPolicy does.
import { expect, test } from "bun:test";
import { RestartTracker } from "../../plugins/exec/restart.ts";

const policy = (attempts: number) => ({ attempts, intervalMs: 60_000, delayMs: 100, mode: "fail" as const });

test("a raised attempts count applies to the next exit; restarts already counted in the window still count", () => {
  const t = new RestartTracker(policy(1), false);
  expect(t.next(1000, false).kind).toBe("restart"); // 1 of 1
  t.setPolicy(policy(2));
  expect(t.next(2000, false)).toMatchObject({ kind: "restart", reason: "restart 2 of 2 in this 1m window" });
  expect(t.next(3000, false).kind).toBe("fail");
});

test("a lowered attempts count fails the next exit once the window's count passes it", () => {
  const t = new RestartTracker(policy(3), false);
  expect(t.next(1000, false).kind).toBe("restart");
  t.setPolicy(policy(0));
  expect(t.next(2000, false).kind).toBe("fail");
});
