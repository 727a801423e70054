// Agents block on their own node's allocations. A change to one node's
// allocations must wake that node's waiters and no other's (each woken
// waiter re-runs its query: waking every agent on every write cost
// O(agents) reads per write, the placement scale run's largest cost), and
// a change the state machine cannot place (a restore) must still wake all.
import { afterEach, describe, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { IndexWatch } from "../../core/state/watch.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const N1 = uuid(2001);
const N2 = uuid(2002);

function plan(evalId: string, placements: { id: string; nodeId: string; i: number }[], stops: string[] = []): Command {
  return {
    type: "CommitPlan", v: 1, at: 10, evalId, namespace: "default", jobId: "web", jobVersion: 0,
    placements: placements.map((p) => ({
      id: p.id, group: "web", taskGroupIndex: p.i, nodeId: p.nodeId, resources: { cpuMhz: 100, memoryMb: 64 },
      ports: [], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
    })),
    stops: stops.map((allocId) => ({ allocId, description: "stop" })), evalStatus: "complete", evalDescription: "", failedGroups: [],
  } as Command;
}

/** Resolves to whether the waiter woke within `ms` (a long deadline: only a change resolves it true). */
function woke(watch: IndexWatch, topic: Parameters<IndexWatch["next"]>[0][number], ms = 300): Promise<boolean> {
  const ac = new AbortController();
  const p = watch.next([topic], Date.now() + 60_000, ac.signal);
  const timer = setTimeout(() => ac.abort(), ms);
  return p.finally(() => clearTimeout(timer));
}

describe("IndexWatch keys", () => {
  test("a keyed waiter wakes for its key, not for another; a change naming no keys wakes it", async () => {
    const w = new IndexWatch();
    const a = woke(w, { table: "allocations", key: "A" });
    const b = woke(w, { table: "allocations", key: "B" });
    const whole = woke(w, "allocations");
    w.notify(["allocations"], new Map([["allocations", ["A"]]]));
    expect(await a).toBe(true);
    expect(await whole).toBe(true);
    expect(await b).toBe(false);
    const c = woke(w, { table: "allocations", key: "C" });
    w.notify(["allocations"]);
    expect(await c).toBe(true);
  });

  test("a change wakes 200,000 waiters of one table, and none is left registered", async () => {
    const w = new IndexWatch();
    const all = Array.from({ length: 200_000 }, () => w.next(["catalog"], Date.now() + 60_000));
    w.notify(["catalog"]);
    expect((await Promise.all(all)).every(Boolean)).toBe(true);
    expect(w.size()).toBe(0);
  });

  test("waiters that time out or abort leave nothing behind (keys come and go with nodes)", async () => {
    const w = new IndexWatch();
    await Promise.all(Array.from({ length: 50 }, (_, i) => woke(w, { table: "allocations", key: `n${i}` }, 10)));
    expect(w.size()).toBe(0);
    expect(w.hasKeyedWaiters("allocations")).toBe(false);
  });
});

describe("allocation writes wake only their nodes' waiters", () => {
  test("placement, status update and deletion wake the node they touch; the other node sleeps", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    await t.propose(registerNode(N2, "n2"));
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 2 }), evalId: ev });
    const watch = t.fsm.watch;

    let [on1, on2] = [woke(watch, { table: "allocations", key: N1 }), woke(watch, { table: "allocations", key: N2 })];
    const a = uuid();
    expect((await t.propose(plan(ev, [{ id: a, nodeId: N1, i: 0 }]))).result.ok).toBe(true);
    expect([await on1, await on2]).toEqual([true, false]);

    [on1, on2] = [woke(watch, { table: "allocations", key: N1 }), woke(watch, { table: "allocations", key: N2 })];
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: 20, nodeId: N1, updates: [{ allocId: a, clientStatus: "running", description: "", taskStates: {} }] });
    expect([await on1, await on2]).toEqual([true, false]);

    // A purge deletes the row once stopped: the deletion index names the node.
    const stop = uuid();
    await t.propose({ type: "DeregisterJob", v: 1, at: 30, namespace: "default", jobId: "web", purge: true, evalId: stop });
    await t.propose(plan(stop, [], [a]));
    [on1, on2] = [woke(watch, { table: "allocations", key: N1 }), woke(watch, { table: "allocations", key: N2 })];
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: 40, nodeId: N1, updates: [{ allocId: a, clientStatus: "complete", description: "", taskStates: {} }] });
    expect(t.state.jobs.getAlloc(a)).toBeUndefined();
    expect([await on1, await on2]).toEqual([true, false]);
  });

  test("a restored snapshot wakes every node's waiter", async () => {
    t = await testState();
    const [on1, on2] = [woke(t.fsm.watch, { table: "allocations", key: N1 }), woke(t.fsm.watch, { table: "allocations", key: N2 })];
    t.fsm.restoredTo(t.fsm.appliedIndex());
    expect([await on1, await on2]).toEqual([true, true]);
  });
});
