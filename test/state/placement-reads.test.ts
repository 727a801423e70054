// The leaner reads the scheduling loop and the health watcher use at scale
// answer exactly what the general reads they replace answer:
// - taskCheckStatuses (one read of every task check per watcher tick) = allocCheckStatuses per allocation;
// - healthCandidates = the live service allocations without a verdict;
// - liveAllocsLite = liveAllocs, projected on what placement reads.
import { afterEach, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { checks } from "../../core/store/schema.ts";
import { taskServiceId } from "../../core/state/domains/jobs-read.ts";
import { allocView, allocViews } from "../../core/api/job-views.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const N1 = uuid(3001);
const N2 = uuid(3002);

test("the scale reads agree with the general reads", async () => {
  t = await testState();
  await t.propose(registerNode(N1, "n1"));
  await t.propose(registerNode(N2, "n2"));
  const ev = uuid();
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 4 }), evalId: ev });
  const ids = [uuid(), uuid(), uuid(), uuid()];
  const plan = {
    type: "CommitPlan", v: 1, at: 10, evalId: ev, namespace: "default", jobId: "web", jobVersion: 0,
    placements: ids.map((id, i) => ({
      id, group: "web", taskGroupIndex: i, nodeId: i % 2 ? N2 : N1, resources: { cpuMhz: 100, memoryMb: 64 },
      ports: [{ task: "srv", label: "http", value: 20000 + i, static: false }], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
    })),
    stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [],
  } as Command;
  expect((await t.propose(plan)).result.ok).toBe(true);
  // One running, one failed (no longer live), one healthy (has its verdict), one pending.
  await t.propose({ type: "UpdateAllocStatus", v: 1, at: 20, nodeId: N1, updates: [{ allocId: ids[0]!, clientStatus: "running", description: "", taskStates: {} }] });
  await t.propose({ type: "UpdateAllocStatus", v: 1, at: 20, nodeId: N2, updates: [{ allocId: ids[1]!, clientStatus: "failed", description: "", taskStates: {} }] });
  await t.propose({ type: "UpdateDeployment", v: 1, at: 21, health: [{ allocId: ids[2]!, healthy: true, description: "" }], deployments: [] });

  // Task checks of two allocations (two tasks on the first), a node check and another service's check.
  const row = (nodeId: string, checkId: string, serviceId: string, status: "passing" | "critical") => ({
    nodeId, checkId, name: checkId, status, notes: "", output: "", serviceId, type: "ttl", definition: {}, createIndex: 1, modifyIndex: 1,
  });
  t.store.db.insert(checks).values([
    row(N1, "c1", taskServiceId(ids[0]!, "srv"), "passing"),
    row(N1, "c2", taskServiceId(ids[0]!, "side"), "critical"),
    row(N2, "c3", taskServiceId(ids[3]!, "srv"), "passing"),
    row(N1, "c4", "", "critical"),
    row(N1, "c5", "web-frontend", "critical"),
    // Same allocation id, other node: not this allocation's check.
    row(N2, "c6", taskServiceId(ids[0]!, "srv"), "critical"),
  ]).run();

  const jobs = t.state.jobs;
  const lookup = jobs.taskCheckStatuses();
  for (const a of jobs.listAllocs()) {
    expect(lookup(a.nodeId, a.id).sort()).toEqual(jobs.allocCheckStatuses(a.nodeId, a.id).sort());
  }
  expect(lookup(N1, ids[0]!).sort()).toEqual(["critical", "passing"]);

  const expected = jobs.liveAllocs().filter((a) => a.health === "" && a.jobType === "service").map((a) => a.id).sort();
  expect(jobs.healthCandidates().map((a) => a.id).sort()).toEqual(expected);
  expect(expected).toEqual([ids[0]!, ids[3]!].sort());

  const keys = ["id", "jobId", "namespace", "groupName", "nodeId", "priority", "resources", "ports", "desiredStatus", "clientStatus", "taskGroupIndex"] as const;
  const project = (a: Record<string, unknown>) => Object.fromEntries(keys.map((k) => [k, a[k]]));
  const byId = (x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id);
  expect(jobs.liveAllocsLite().sort(byId)).toEqual(jobs.liveAllocs().sort(byId).map(project) as never);

  // A list's views read each node's name once, and say what one view at a time says.
  let reads = 0;
  const state = t.state;
  const counting = { ...state, getNode: (id: string) => (reads++, state.getNode(id)) };
  const list = jobs.listAllocs();
  const views = allocViews(list, counting, true);
  expect(reads).toBe(2);
  expect(views).toEqual(list.map((a) => allocView(a, state, true)));
  expect(views.map((v) => v.nodeName).sort()).toEqual(["n1", "n1", "n2", "n2"]);
});
