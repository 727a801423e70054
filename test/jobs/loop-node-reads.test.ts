// The scheduling loop reads the node list again only when the nodes table
// changed: a burst of registrations (here 6 jobs, each its own evaluation)
// read and decoded every node once per evaluation and per fairness pick
// before. A node joining afterwards is still seen by the next evaluation.
import { expect, test } from "bun:test";
import type { StateReader } from "../../core/state/reader.ts";
import { eventually } from "../helpers/proc.ts";
import { registerNode, simpleJob, uuid } from "./fixtures.ts";
import { loopHarness } from "./loop-harness.ts";

const harness = loopHarness();

test("one node-list read for a burst of evaluations; a new node is read again and used", async () => {
  const tt = await harness.state();
  await tt.propose(registerNode(uuid(601), "n1", { cpuMhz: 1000 }));
  await tt.propose(registerNode(uuid(602), "n2", { cpuMhz: 1000 }));
  let reads = 0;
  const state: StateReader = { ...tt.state, listNodes: () => (reads++, tt.state.listNodes()) };
  harness.start(tt, state);
  const restoreReads = reads; // a new leader's restore() reads the nodes once
  const evals = Array.from({ length: 6 }, () => uuid());
  await Promise.all(evals.map((evalId, i) => tt.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob(`job-${i}`, { count: 1, cpu: 100 }), evalId })));
  await eventually(() => evals.every((id) => tt.state.jobs.getEval(id)?.status === "complete"), 10_000, 10);
  expect(reads - restoreReads).toBe(1);

  // A node that joins moves the nodes table: the next evaluation reads it and can place there.
  const n3 = uuid(603);
  await tt.propose(registerNode(n3, "n3", { cpuMhz: 4000 })); // the only node with room for "big"
  const big = uuid();
  await tt.propose({ type: "RegisterJob", v: 1, at: Date.now(), job: simpleJob("big", { count: 1, cpu: 2000 }), evalId: big });
  await eventually(() => tt.state.jobs.getEval(big)?.status === "complete", 10_000, 10);
  expect(tt.state.jobs.listAllocs({ namespace: "default", jobId: "big" }).map((a) => a.nodeId)).toEqual([n3]);
  expect(reads - restoreReads).toBe(2);
});
