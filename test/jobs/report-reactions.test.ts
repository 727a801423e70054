// What the leader reacts to in an agent's status report (triggers.ts afterReport),
// pure: a fake state that counts allocation reads. The common report — an
// allocation now running, no drain anywhere — needs no reaction and must not
// read the allocation (one full row per report, group spec and all, on the
// leader's apply path); the reports that do react still do.
import { expect, test } from "bun:test";
import { reactionsTo } from "../../core/cluster/scheduling/triggers.ts";
import type { AppliedEntry } from "../../core/state/fsm.ts";
import type { StateReader } from "../../core/state/reader.ts";
import type { AllocRow, NodeDrainRow } from "../../core/store/schema-jobs.ts";

const NODE = "node-1";

function fakeState(drains: string[]): { state: StateReader; reads: () => number } {
  let reads = 0;
  const alloc = (id: string) => ({ id, nodeId: NODE, namespace: "default", jobId: `job-${id}`, desiredStatus: "run", priority: 50, jobType: "batch" }) as AllocRow;
  const state = {
    jobs: {
      getAlloc: (id: string) => (reads++, alloc(id)),
      drains: () => drains.map((nodeId) => ({ nodeId }) as NodeDrainRow),
      getJob: (namespace: string, id: string) => ({ namespace, id, priority: 50 }),
    },
  } as unknown as StateReader;
  return { state, reads: () => reads };
}

function report(...updates: [string, string][]): AppliedEntry {
  return {
    index: 10, result: { ok: true },
    command: { type: "UpdateAllocStatus", v: 1, at: 1, nodeId: NODE, updates: updates.map(([allocId, clientStatus]) => ({ allocId, clientStatus, description: "", taskStates: {} })) },
  } as AppliedEntry;
}

test("running reports with no drain anywhere read no allocation and react to nothing", () => {
  const f = fakeState([]);
  expect(reactionsTo(report(["a1", "running"], ["a2", "running"], ["a3", "pending"]), f.state)).toEqual([]);
  expect(f.reads()).toBe(0);
});

test("failed, complete and (while a node drains) running reports still react", () => {
  const f = fakeState([]);
  expect(reactionsTo(report(["a1", "failed"], ["a2", "complete"]), f.state)).toEqual([
    { kind: "capacity", nodeId: NODE },
    { kind: "capacity", nodeId: NODE },
    { kind: "evaluate", jobs: [{ namespace: "default", jobId: "job-a1", priority: 50 }], triggeredBy: "alloc-failure" },
  ]);
  const d = fakeState(["elsewhere"]);
  expect(reactionsTo(report(["a4", "running"]), d.state)).toEqual([
    { kind: "evaluate", jobs: [{ namespace: "default", jobId: "job-a4", priority: 50 }], triggeredBy: "node-drain" },
  ]);
});

test("a v2 entry's report rolled back alone reacts to nothing, as its refused v1 entry would; its batch-mates react", () => {
  const f = fakeState([]);
  const entry = {
    index: 11,
    result: { ok: true, value: { reports: [{ refused: { code: "APPLY_FAILED", message: "command could not be applied: x" } }, { updated: 1, ignored: [] }] } },
    command: {
      type: "UpdateAllocStatus", v: 2, at: 2,
      reports: [
        { nodeId: NODE, at: 1, updates: [{ allocId: "a1", clientStatus: "failed", description: "", taskStates: {} }] },
        { nodeId: NODE, at: 2, updates: [{ allocId: "a2", clientStatus: "complete", description: "", taskStates: {} }] },
      ],
    },
  } as AppliedEntry;
  expect(reactionsTo(entry, f.state)).toEqual([{ kind: "capacity", nodeId: NODE }]);
  expect(f.reads()).toBe(1);
});
