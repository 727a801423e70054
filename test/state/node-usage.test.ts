// Plan verification against each node's usage kept in memory
// (core/state/domains/node-usage.ts), followed entry by entry by the Fsm,
// instead of reading the node's live allocations from SQLite for every plan.
// Random sequences of plans (placements that fit or not: cpu, memory, port
// clashes; stops), agents' reports (running, complete, failed, from the
// wrong node), purges whose last report deletes the job's allocations, some
// proposed together so that several entries share one transaction, run
// twice on real SQLite files through the real replicator: once keeping the
// usage, once reading it afresh for every plan as before. Every entry must
// have the same outcome in both (a refused plan refused with the same
// reason), and after each batch the kept rows must equal a fresh read.
import { afterEach, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { keptNodeUsage, liveUsageRows, readUsageAfresh } from "../../core/state/domains/node-usage.ts";
import { liveUsageOnNode } from "../../core/state/domains/jobs-prepared.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";
import { mulberry32 } from "../sim/prng.ts";

const states: TestState[] = [];
afterEach(async () => {
  for (const s of states.splice(0)) await s.close();
});


const NODES = [uuid(7001), uuid(7002), uuid(7003), uuid(7004)];
const JOBS = ["web", "api", "db"];

/** Batches of commands (each batch proposed together), the same for any run of one seed. */
function script(seed: number): Command[][] {
  const r = mulberry32(seed).next; // the same sequence for both twins
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const placed: { id: string; nodeId: string; jobId: string }[] = [];
  let n = 0;
  const id = () => `00000000-0000-4000-9000-${(seed * 100_000 + ++n).toString(16).padStart(12, "0")}`;
  const batches: Command[][] = [];
  for (let b = 0; b < 40; b++) {
    const batch: Command[] = [];
    for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
      const roll = r();
      if (roll < 0.45 || placed.length === 0) {
        const jobId = pick(JOBS);
        const evalId = id();
        batch.push({ type: "UpdateEvaluation", v: 1, at: 2, evals: [{ id: evalId, namespace: "default", jobId, priority: 50, triggeredBy: "test", nodeId: "", status: "pending", description: "", waitUntil: 0 }] } as Command);
        const placements = Array.from({ length: 1 + Math.floor(r() * 5) }, (_, i) => {
          const a = { id: id(), nodeId: pick(NODES), jobId };
          placed.push(a);
          return {
            id: a.id, group: "web", taskGroupIndex: i, nodeId: a.nodeId,
            resources: { cpuMhz: 100 + Math.floor(r() * 4) * 100, memoryMb: 64 + Math.floor(r() * 4) * 64 },
            ports: [{ task: "srv", label: "http", value: 21000 + Math.floor(r() * 12), static: false }],
            groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
          };
        });
        const stops = r() < 0.3 ? [{ allocId: pick(placed).id, description: "stopped by the test" }] : [];
        batch.push({
          type: "CommitPlan", v: 1, at: 10, evalId, namespace: "default", jobId, jobVersion: 0,
          placements, stops, evalStatus: "complete", evalDescription: "", failedGroups: [],
        } as Command);
      } else if (roll < 0.9) {
        const a = pick(placed);
        const nodeId = r() < 0.9 ? a.nodeId : pick(NODES);
        const clientStatus = pick(["running", "running", "complete", "failed"] as const);
        batch.push({ type: "UpdateAllocStatus", v: 1, at: 20 + b, nodeId, updates: [{ allocId: a.id, clientStatus, description: "", taskStates: {} }] } as Command);
      } else {
        // Purge a job and register it again: its allocations are deleted as their agents report them stopped.
        const jobId = pick(JOBS);
        batch.push({ type: "DeregisterJob", v: 1, at: 30, namespace: "default", jobId, purge: true, evalId: id() } as Command);
        batch.push({ type: "RegisterJob", v: 1, at: 31, job: simpleJob(jobId, { count: 50 }), evalId: id() } as Command);
      }
    }
    batches.push(batch);
  }
  return batches;
}

async function twin(afresh: boolean): Promise<TestState> {
  const t = await testState();
  states.push(t);
  if (afresh) readUsageAfresh(t.store.db);
  for (const [i, nodeId] of NODES.entries()) await t.propose(registerNode(nodeId, `n${i}`, { cpuMhz: 1000, memoryMb: 768 }));
  for (const jobId of JOBS) await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob(jobId, { count: 50 }), evalId: uuid() });
  return t;
}

const sortRows = <T extends { id: string }>(rows: Iterable<T>): T[] => [...rows].sort((a, b) => a.id.localeCompare(b.id));

for (const seed of [1, 2, 3]) {
  test(`seed ${seed}: every entry has the outcome it has when each plan reads its nodes afresh; the kept rows equal a fresh read`, async () => {
    const kept = await twin(false);
    const afresh = await twin(true);
    let refused = 0;
    let placedOk = 0;
    for (const batch of script(seed)) {
      const a = await Promise.all(batch.map((c) => kept.propose(c)));
      const b = await Promise.all(batch.map((c) => afresh.propose(c)));
      expect(a.map((o) => o.result)).toEqual(b.map((o) => o.result));
      for (const [i, c] of batch.entries()) {
        if (c.type !== "CommitPlan") continue;
        if (a[i]!.result.ok) placedOk++;
        else if (a[i]!.result.code === "PLAN_REJECTED") refused++;
      }
      for (const nodeId of NODES) {
        expect(sortRows(liveUsageRows(kept.store.db, nodeId))).toEqual(sortRows(liveUsageOnNode(kept.store.db).all({ nodeId })));
      }
    }
    // The sequence exercised both verdicts, and the usage was kept rather than read each time.
    expect(refused).toBeGreaterThan(0);
    expect(placedOk).toBeGreaterThan(0);
    expect(keptNodeUsage(kept.store.db)).toBe(NODES.length);
    expect(keptNodeUsage(afresh.store.db)).toBe(0);
  });
}
