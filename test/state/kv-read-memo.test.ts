// StateReader.kvGet and sessions.lockDelayUntil remember a key's row for
// the applied index it was read at (core/state/index-memo.ts): the contenders a lock's release wakes all read
// the lock key at one index. Every entry must drop the memory (a write of
// the key, a delete, a session's release, an entry for something else), and
// no caller may change what the next one reads.
import { afterEach, expect, test } from "bun:test";
import { registerNode, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

test("kvGet answers the row at the current applied index, after every kind of entry", async () => {
  t = await testState();
  const set = (key: string, value: string, extra: Record<string, unknown> = {}) =>
    t!.propose({ type: "KVSet", v: 1, at: Date.now(), key, value, flags: 0, ...extra } as never);
  expect(t.state.kvGet("k")).toBeUndefined();
  await set("k", "YQ==");
  const first = t.state.kvGet("k")!;
  expect(first.value).toBe("YQ==");
  first.value = "changed by a caller";
  expect(t.state.kvGet("k")!.value).toBe("YQ==");
  await set("k", "Yg==");
  expect(t.state.kvGet("k")!.value).toBe("Yg==");
  const session = uuid(4001);
  await t.propose(registerNode(uuid(4000), "n1"));
  await t.propose({
    type: "SessionCreate", v: 1, at: Date.now(),
    session: { id: session, name: "s", node: "n1", nodeChecks: [], serviceChecks: [], lockDelayMs: 0, behavior: "release", ttl: "" },
  } as never);
  await set("k", "Yw==", { acquire: session });
  expect(t.state.kvGet("k")!.session).toBe(session);
  await t.propose({ type: "SessionDestroy", v: 1, at: Date.now(), id: session, reason: "destroy" } as never);
  expect(t.state.kvGet("k")!.session).toBe("");
  await t.propose({ type: "KVDelete", v: 1, at: Date.now(), key: "k", recurse: false } as never);
  expect(t.state.kvGet("k")).toBeUndefined();
  await set("k", "ZA==");
  expect(t.state.kvGet("k")!.value).toBe("ZA==");
});

test("lockDelayUntil follows the session's end that starts the delay", async () => {
  t = await testState();
  await t.propose(registerNode(uuid(5000), "n1"));
  const session = uuid(5001);
  await t.propose({
    type: "SessionCreate", v: 1, at: Date.now(),
    session: { id: session, name: "s", node: "n1", nodeChecks: [], serviceChecks: [], lockDelayMs: 60_000, behavior: "release", ttl: "" },
  } as never);
  await t.propose({ type: "KVSet", v: 1, at: Date.now(), key: "d", value: "", flags: 0, acquire: session } as never);
  expect(t.state.sessions.lockDelayUntil("d")).toBe(0);
  await t.propose({ type: "SessionDestroy", v: 1, at: Date.now(), id: session, reason: "destroy" } as never);
  expect(t.state.sessions.lockDelayUntil("d")).toBeGreaterThan(Date.now());
});
