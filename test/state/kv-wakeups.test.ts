// KV blocking reads wait on their key or prefix (core/api/kv.ts kvTopic). A
// write must wake the waiters of the keys it changed and of the prefixes
// above them, and no other: with 16 contenders waiting on a lock key, every
// write under the lock woke all 16 (bench/locks.ts), each re-reading the key
// to find nothing new. Every applier that changes a key must name it: plain
// writes, deletes (a key, a tree), transactions, lock writes and a session's
// end (release or delete); a restore, which names nothing, wakes them all.
import { afterEach, describe, expect, test } from "bun:test";
import { IndexWatch, type WatchTopic } from "../../core/state/watch.ts";
import { registerNode, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Resolves to whether the waiter woke within `ms` (a long deadline: only a change resolves it true). */
function woke(watch: IndexWatch, topic: WatchTopic, ms = 300): Promise<boolean> {
  const ac = new AbortController();
  const p = watch.next([topic], Date.now() + 60_000, ac.signal);
  const timer = setTimeout(() => ac.abort(), ms);
  return p.finally(() => clearTimeout(timer));
}

const under = (prefix: string): WatchTopic => ({ table: "kv", prefix });

describe("IndexWatch prefixes", () => {
  test("a prefix waiter wakes for a key under it, not for another; a change naming no keys wakes it", async () => {
    const w = new IndexWatch();
    const lock = woke(w, under("locks/a/.lock"));
    const tree = woke(w, under("locks/"));
    const root = woke(w, under(""));
    const other = woke(w, under("data/"));
    const whole = woke(w, "kv");
    w.notify(["kv"], new Map([["kv", ["locks/a/.lock"]]]));
    expect([await lock, await tree, await root, await whole, await other]).toEqual([true, true, true, true, false]);
    const again = woke(w, under("data/"));
    w.notify(["kv"]);
    expect(await again).toBe(true);
  });

  test("many prefixes and long keys: the key's own prefixes are looked up, with the same answer", async () => {
    const w = new IndexWatch();
    const many = Array.from({ length: 300 }, (_, i) => woke(w, under(`p${i}/`)));
    const hit = woke(w, under("p7/x"));
    w.notify(["kv"], new Map([["kv", ["p7/xy"]]]));
    const results = await Promise.all(many);
    expect(results.filter(Boolean).length).toBe(1);
    expect(results[7]).toBe(true);
    expect(await hit).toBe(true);
  });

  test("waiters that time out leave nothing behind", async () => {
    const w = new IndexWatch();
    await Promise.all(Array.from({ length: 50 }, (_, i) => woke(w, under(`k${i}`), 10)));
    expect(w.size()).toBe(0);
    expect(w.hasKeyedWaiters("kv")).toBe(false);
  });
});

describe("KV writes wake only the waiters of the keys they change", () => {
  const set = (key: string, extra: Record<string, unknown> = {}) =>
    ({ type: "KVSet", v: 1, at: Date.now(), key, value: "", flags: 0, ...extra }) as never;

  test("set, lock writes, delete, delete-tree, transactions and a session's end each wake their keys' waiters only", async () => {
    t = await testState();
    const watch = t.fsm.watch;
    const [session, other] = [uuid(3001), uuid(3002)];
    await t.propose(registerNode(uuid(3000), "n1"));
    for (const id of [session, other]) {
      const created = await t.propose({
        type: "SessionCreate", v: 1, at: Date.now(),
        session: { id, name: "s", node: "n1", nodeChecks: [], serviceChecks: [], lockDelayMs: 0, behavior: "release", ttl: "" },
      } as never);
      expect(created.result.ok).toBe(true);
    }

    /** Which of the lock key, the data key, the data prefix and another prefix the command woke. */
    const wakes = async (cmd: unknown): Promise<boolean[]> => {
      const waits = [under("lock"), under("data/x"), under("data/"), under("other/")].map((p) => woke(watch, p));
      const out = await t!.propose(cmd as never);
      expect(out.result.ok).toBe(true);
      return Promise.all(waits);
    };
    expect(await wakes(set("data/x"))).toEqual([false, true, true, false]);
    expect(await wakes(set("lock", { acquire: session }))).toEqual([true, false, false, false]);
    // A refused acquire changes nothing: it wakes no one.
    expect(await wakes(set("lock", { acquire: other }))).toEqual([false, false, false, false]);
    expect(await wakes(set("lock", { release: session }))).toEqual([true, false, false, false]);
    expect(await wakes({ type: "KVDelete", v: 1, at: Date.now(), key: "data/x", recurse: false })).toEqual([false, true, true, false]);
    await t.propose(set("data/y"));
    expect(await wakes({ type: "KVDelete", v: 1, at: Date.now(), key: "data/", recurse: true })).toEqual([false, false, true, false]);
    const txn = { type: "Txn", v: 1, at: Date.now(), ops: [{ kind: "kv", verb: "set", key: "data/x", value: "" }, { kind: "kv", verb: "lock", key: "lock", session }] };
    expect(await wakes(txn)).toEqual([true, true, true, false]);
    // The session's end releases the lock: its waiters wake, the data's do not.
    expect(await wakes({ type: "SessionDestroy", v: 1, at: Date.now(), id: session, reason: "destroy" })).toEqual([true, false, false, false]);
  });
});
