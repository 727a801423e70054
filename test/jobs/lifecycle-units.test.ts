// The pure parts of task lifecycle and operating allocations: which tasks
// start, stop or are skipped at each step (plugins/exec/lifecycle.ts), and
// which signal names are accepted (core/scheduler/signals.ts).
import { describe, expect, test } from "bun:test";
import { lifecycleStep, type TaskNow } from "../../plugins/exec/lifecycle.ts";
import { parseSignal } from "../../core/scheduler/signals.ts";

const tasks = [
  { name: "main" },
  { name: "init", lifecycle: { hook: "prestart" as const, sidecar: false } },
  { name: "side", lifecycle: { hook: "prestart" as const, sidecar: true } },
  { name: "post", lifecycle: { hook: "poststart" as const, sidecar: false } },
  { name: "bye", lifecycle: { hook: "poststop" as const, sidecar: false } },
];

function now(states: Record<string, Partial<TaskNow>>): Map<string, TaskNow> {
  return new Map(Object.entries(states).map(([k, v]) => [k, { launched: true, state: "running", failed: false, ...v }]));
}

describe("lifecycleStep", () => {
  test("nothing started: only the prestart tasks start", () => {
    expect(lifecycleStep(tasks, new Map(), false)).toEqual({ start: ["init", "side"], stop: [], skip: [] });
  });

  test("main waits for the ephemeral prestart to complete and the sidecar to run", () => {
    expect(lifecycleStep(tasks, now({ init: { state: "running" }, side: {} }), false).start).toEqual([]);
    expect(lifecycleStep(tasks, now({ init: { state: "dead" }, side: { state: "pending" } }), false).start).toEqual([]);
    // A prestart restarting after a failure (pending, not failed yet) still holds main back.
    expect(lifecycleStep(tasks, now({ init: { state: "pending" }, side: {} }), false).start).toEqual([]);
    expect(lifecycleStep(tasks, now({ init: { state: "dead" }, side: {} }), false).start).toEqual(["main"]);
  });

  test("poststart once main runs; poststop once main, sidecar and poststart are dead", () => {
    expect(lifecycleStep(tasks, now({ init: { state: "dead" }, side: {}, main: { state: "pending" } }), false).start).toEqual([]);
    expect(lifecycleStep(tasks, now({ init: { state: "dead" }, side: {}, main: {} }), false).start).toEqual(["post"]);
    const mainDone = lifecycleStep(tasks, now({ init: { state: "dead" }, side: {}, main: { state: "dead" }, post: {} }), false);
    expect(mainDone).toEqual({ start: [], stop: ["side", "post"], skip: [] });
    const allDead = lifecycleStep(tasks, now({ init: { state: "dead" }, side: { state: "dead" }, main: { state: "dead" }, post: { state: "dead" } }), false);
    expect(allDead.start).toEqual(["bye"]);
  });

  test("a failed prestart: nothing else starts, every task not started is skipped", () => {
    const step = lifecycleStep(tasks, now({ init: { state: "dead", failed: true }, side: {} }), false);
    expect(step.start).toEqual([]);
    expect(step.skip.sort()).toEqual(["bye", "main", "post"]);
  });

  test("stopping after main started: poststop runs once the rest is dead; before main started it is skipped", () => {
    const running = now({ init: { state: "dead" }, side: { state: "dead" }, main: { state: "dead" }, post: { state: "dead" } });
    expect(lifecycleStep(tasks, running, true)).toEqual({ start: ["bye"], stop: [], skip: [] });
    const early = lifecycleStep(tasks, now({ init: { state: "dead" }, side: { state: "dead" } }), true);
    expect(early.start).toEqual([]);
    expect(early.skip.sort()).toEqual(["bye", "main", "post"]);
  });

  test("a group without lifecycle tasks starts every task at once", () => {
    expect(lifecycleStep([{ name: "a" }, { name: "b" }], new Map(), false).start).toEqual(["a", "b"]);
  });
});

describe("parseSignal", () => {
  test("names with or without SIG, any case; nothing off the allow-list", () => {
    expect(parseSignal("SIGUSR1")).toBe("SIGUSR1");
    expect(parseSignal("usr1")).toBe("SIGUSR1");
    expect(parseSignal(" hup ")).toBe("SIGHUP");
    for (const bad of ["SIGSTOP", "SIGTSTP", "SIGSEGV", "9", "", "SIG", "USR1;reboot", "SIGUSR1 ", "SIGKILLX"]) {
      expect([bad, parseSignal(bad)]).toEqual([bad, bad === "SIGUSR1 " ? "SIGUSR1" : undefined]);
    }
  });
});
