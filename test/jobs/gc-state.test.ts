// Garbage collection in the state domain (core/state/domains/gc.ts) and the
// time table behind its thresholds (core/cluster/gc/time-table.ts): what is
// chosen, that the applier re-checks each row when the entry applies, and
// that deleting an allocation moves its node's allocation index.
import { afterEach, describe, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { TimeTable } from "../../core/cluster/gc/time-table.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "./fixtures.ts";

let t: TestState;
afterEach(async () => t?.close());

const N1 = uuid(2001);
const N2 = uuid(2002);

function placement(id: string, nodeId: string, i: number) {
  return {
    id, group: "web", taskGroupIndex: i, nodeId, resources: { cpuMhz: 100, memoryMb: 64 },
    ports: [], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
  };
}

const report = (nodeId: string, allocId: string, clientStatus: "running" | "complete"): Command => ({
  type: "UpdateAllocStatus", v: 1, at: 20, nodeId, updates: [{ allocId, clientStatus, description: "", taskStates: {} }],
});

/** A job placed on `nodeId` whose allocation ran and completed, then stopped: dead. */
async function deadJob(id: string, nodeId: string): Promise<string> {
  const ev = uuid();
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob(id), evalId: ev });
  const a = uuid();
  await t.propose({ type: "CommitPlan", v: 1, at: 10, evalId: ev, namespace: "default", jobId: id, jobVersion: 0, placements: [placement(a, nodeId, 0)], stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [] } as Command);
  await t.propose(report(nodeId, a, "running"));
  const stop = uuid();
  await t.propose({ type: "DeregisterJob", v: 2, at: 30, namespace: "default", jobId: id, purge: false, evalId: stop });
  await t.propose({ type: "CommitPlan", v: 1, at: 31, evalId: stop, namespace: "default", jobId: id, jobVersion: 0, placements: [], stops: [{ allocId: a, description: "job stopped" }], evalStatus: "complete", evalDescription: "", failedGroups: [] } as Command);
  await t.propose(report(nodeId, a, "complete"));
  return a;
}

describe("garbage collection (state)", () => {
  test("a dead job is chosen and deleted with all it left; its node's allocation index moves, another node's does not", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    await t.propose(registerNode(N2, "n2"));
    const a = await deadJob("old", N1);
    expect(t.state.jobs.getJob("default", "old")!.status).toBe("dead");
    // Nothing is old enough under a cut-off before the job's last change.
    const before = t.state.jobs.getJob("default", "old")!.modifyIndex - 1;
    expect(t.state.jobs.gcCandidates({ job: before, eval: before, deployment: before }).jobs).toEqual([]);

    const n1Index = t.state.jobs.nodeAllocIndex(N1);
    const n2Index = t.state.jobs.nodeAllocIndex(N2);
    const cut = t.state.appliedIndex();
    const c = t.state.jobs.gcCandidates({ job: cut, eval: cut, deployment: cut });
    expect(c.jobs.map((j) => j.id)).toEqual(["old"]);
    const out = await t.propose({ type: "GarbageCollect", v: 1, at: 50, ...c });
    expect(out.result.value).toMatchObject({ jobs: 1, allocs: 1 });
    expect(t.state.jobs.getJob("default", "old")).toBeUndefined();
    expect(t.state.jobs.getAlloc(a)).toBeUndefined();
    expect(t.state.jobs.listEvals({ jobId: "old" })).toEqual([]);
    expect(t.state.jobs.nodeAllocIndex(N1)).toBe(out.index);
    expect(out.index).toBeGreaterThan(n1Index);
    expect(t.state.jobs.nodeAllocIndex(N2)).toBe(n2Index);
  });

  test("the applier re-checks: a job re-registered after it was chosen is kept", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    await deadJob("again", N1);
    const cut = t.state.appliedIndex();
    const chosen = t.state.jobs.gcCandidates({ job: cut, eval: cut, deployment: cut });
    expect(chosen.jobs.map((j) => j.id)).toEqual(["again"]);
    await t.propose({ type: "RegisterJob", v: 1, at: 60, job: simpleJob("again", { count: 2 }), evalId: uuid() });
    const out = await t.propose({ type: "GarbageCollect", v: 1, at: 61, ...chosen, evals: [], allocs: [], deployments: [] });
    expect(out.result.value).toMatchObject({ jobs: 0 });
    expect(t.state.jobs.getJob("default", "again")).toBeDefined();
  });
});

describe("time table", () => {
  test("the newest index witnessed at or before a time; nothing before the first witness", () => {
    const tt = new TimeTable();
    tt.witness(10, 1_000);
    tt.witness(20, 2_000);
    tt.witness(15, 3_000); // backwards: ignored
    tt.witness(30, 3_000);
    expect(tt.indexAt(999)).toBe(0);
    expect(tt.indexAt(1_000)).toBe(10);
    expect(tt.indexAt(2_500)).toBe(20);
    expect(tt.indexAt(10_000)).toBe(30);
  });

  test("bounded: thinned past its size, still answering conservatively", () => {
    const tt = new TimeTable();
    for (let i = 1; i <= 20_000; i++) tt.witness(i, i * 1000);
    expect((tt as unknown as { samples: unknown[] }).samples.length).toBeLessThanOrEqual(4097);
    for (const at of [5_000_000, 12_345_678, 20_000_000]) {
      const idx = tt.indexAt(at);
      expect(idx).toBeLessThanOrEqual(at / 1000); // never newer than what was applied by then
      expect(idx).toBeGreaterThan(at / 1000 - 20); // every other dropped a few times over: a few samples apart
    }
  });

  test("samples older than the horizon go, but the one answering for the horizon stays", () => {
    const tt = new TimeTable(10_000);
    for (let i = 1; i <= 100; i++) tt.witness(i, i * 1000);
    expect((tt as unknown as { samples: unknown[] }).samples.length).toBe(11);
    expect(tt.indexAt(100_000 - 10_000)).toBe(90);
    expect(tt.indexAt(1_000)).toBe(0); // forgotten: as if nothing were that old (conservative)
  });
});
