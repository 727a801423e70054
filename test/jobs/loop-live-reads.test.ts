// The scheduling loop reads every live allocation once, then follows only
// what changed (live-cluster.ts): each evaluation and each fairness pick read
// every live allocation of the cluster before, so a burst of jobs cost
// O(allocations placed) per evaluation. What the reads must still show: an
// allocation placed by an earlier evaluation holds its resources, and one
// stopped since frees them for the next evaluation.
import { expect, test } from "bun:test";
import type { StateReader } from "../../core/state/reader.ts";
import { eventually } from "../helpers/proc.ts";
import { registerNode, simpleJob, uuid } from "./fixtures.ts";
import { loopHarness } from "./loop-harness.ts";

const harness = loopHarness();

test("one full read of the live allocations for a burst of evaluations; placements and stops since are seen", async () => {
  const tt = await harness.state();
  await tt.propose(registerNode(uuid(701), "n1", { cpuMhz: 1000 }));
  await tt.propose(registerNode(uuid(702), "n2", { cpuMhz: 1000 }));
  let fullReads = 0;
  const state: StateReader = { ...tt.state, jobs: { ...tt.state.jobs, liveAllocsLite: () => (fullReads++, tt.state.jobs.liveAllocsLite()) } };
  harness.start(tt, state);
  const run = async (id: string, opts: { count: number; cpu: number }) => {
    const evalId = uuid();
    await tt.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob(id, opts), evalId });
    return evalId;
  };
  const done = (evalId: string) => eventually(() => ["complete", "blocked"].includes(tt.state.jobs.getEval(evalId)?.status ?? ""), 10_000, 10);
  const placed = (id: string) => tt.state.jobs.listAllocs({ namespace: "default", jobId: id }).filter((a) => a.desiredStatus === "run");

  // A burst: six evaluations (several queued at once, so fairness picks too), bin-packed onto one node.
  const small = Array.from({ length: 6 }, (_, i) => `small-${i}`);
  const evals = await Promise.all(small.map((id) => run(id, { count: 1, cpu: 100 })));
  for (const e of evals) await done(e);
  const smallNodes = new Set(small.flatMap((id) => placed(id).map((a) => a.nodeId)));
  expect(smallNodes.size).toBe(1);

  // Each earlier placement still holds its resources: 700 fits only on the empty node.
  const big = await run("big", { count: 1, cpu: 700 });
  await done(big);
  expect(placed("big").map((a) => a.nodeId)).toEqual([uuid(701), uuid(702)].filter((n) => !smallNodes.has(n)));
  // Neither node has 700 left now: a second one is blocked.
  const big2 = await run("big2", { count: 1, cpu: 700 });
  await done(big2);
  expect(tt.state.jobs.getEval(big2)?.status).toBe("blocked");
  expect(placed("big2")).toEqual([]);

  // The small jobs stop: their node's capacity is free again, and the blocked evaluation places there.
  for (const id of small) await tt.propose({ type: "DeregisterJob", v: 1, at: Date.now(), namespace: "default", jobId: id, purge: false, evalId: uuid() });
  await eventually(() => small.every((id) => placed(id).length === 0), 10_000, 10);
  await eventually(() => placed("big2").length === 1, 10_000, 10);
  expect(placed("big2").map((a) => a.nodeId)).toEqual([...smallNodes]);
  // And nothing is left for a third.
  const big3 = await run("big3", { count: 1, cpu: 700 });
  await done(big3);
  expect(placed("big3")).toEqual([]);

  // All of it from one full read (the first evaluation's); the rest followed the changes.
  expect(fullReads).toBe(1);
});
