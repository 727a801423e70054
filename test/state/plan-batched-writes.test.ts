// The plan applier counts a rollout's placements into its deployment once per
// plan (not once per placement), and a job's status is counted in SQL rather
// than from its rows. Both must leave exactly the state the per-row code did:
// - the deployment's groups: placed per group, canary ids in placement order,
//   a placement naming a group the deployment lacks counted nowhere;
// - the job's status through pending → running → dead (batch) and stop.
import { afterEach, expect, test } from "bun:test";
import type { Command } from "../../core/state/commands.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";

let t: TestState | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const N1 = uuid(4101);
const N2 = uuid(4102);

function placement(id: string, i: number, deploymentId: string, group = "web", canary?: boolean) {
  return {
    id, group, taskGroupIndex: i, nodeId: i % 2 ? N2 : N1, resources: { cpuMhz: 100, memoryMb: 64 },
    ports: [{ task: "srv", label: "http", value: 23000 + i, static: false }], groupHash: "h1", deploymentId, previousAlloc: "", reschedules: [],
    ...(canary !== undefined ? { canary } : {}),
  };
}

/** Counts the runs of statements whose SQL matches, among those compiled from now on. */
function countRuns(state: TestState, pattern: RegExp): { runs: () => number } {
  const client = state.store.client as { prepare(sql: string): { run(...p: unknown[]): unknown } };
  const original = client.prepare.bind(client);
  let runs = 0;
  client.prepare = (sql: string) => {
    const stmt = original(sql);
    if (!pattern.test(sql)) return stmt;
    return new Proxy(stmt, { get: (s, k) => (k === "run" ? (...p: unknown[]) => (runs++, s.run(...p)) : Reflect.get(s, k)) });
  };
  return { runs: () => runs };
}

const report = (nodeId: string, allocId: string, clientStatus: "running" | "complete", at: number): Command => ({
  type: "UpdateAllocStatus", v: 1, at, nodeId, updates: [{ allocId, clientStatus, description: "", taskStates: {} }],
});

test("a plan's placements count into their deployment as one write: placed, canaries in order", async () => {
  t = await testState();
  await t.propose(registerNode(N1, "n1"));
  await t.propose(registerNode(N2, "n2"));
  const ev = uuid();
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 4 }), evalId: ev });
  const dep = uuid();
  const ids = [uuid(), uuid(), uuid(), uuid(), uuid()];
  const writes = countRuns(t, /^update "deployments" set "groups"/);
  const out = await t.propose({
    type: "CommitPlan", v: 2, at: 10, evalId: ev, namespace: "default", jobId: "web", jobVersion: 0,
    placements: [
      placement(ids[0]!, 0, dep, "web", true),
      placement(ids[1]!, 1, dep, "web", false),
      placement(ids[2]!, 2, dep, "web", true),
      placement(ids[3]!, 3, ""), // not part of the rollout
    ],
    stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [],
    deployment: { id: dep, groups: { web: { desired: 4, autoRevert: false, canaries: 2 } } },
  } as Command);
  expect(out.result).toEqual({ ok: true, value: { placed: 4, stopped: 0 } });
  const [d] = t.state.jobs.listDeployments({ jobId: "web" });
  expect(d!.groups).toEqual({
    web: { desired: 4, placed: 3, healthy: 0, unhealthy: 0, autoRevert: false, desiredCanaries: 2, placedCanaries: [ids[0]!, ids[2]!], promoted: false, autoPromote: false },
  });
  expect(d!.modifyIndex).toBe(out.index);
  expect(writes.runs()).toBe(1);
  expect(t.state.jobs.listAllocs({ namespace: "default", jobId: "web" }).map((a) => a.deploymentId)).toEqual([dep, dep, dep, ""]);

  // A tick's health verdicts count the same way; a repeated verdict is final (counted once);
  // the outcome in the same entry sees the counts.
  const verdicts = await t.propose({
    type: "UpdateDeployment", v: 1, at: 30,
    health: [
      { allocId: ids[0]!, healthy: true, description: "" },
      { allocId: ids[1]!, healthy: false, description: "" },
      { allocId: ids[0]!, healthy: false, description: "" },
      { allocId: ids[2]!, healthy: true, description: "" },
      { allocId: ids[3]!, healthy: true, description: "" }, // outside the rollout
    ],
    deployments: [{ id: dep, status: "failed", description: "one unhealthy" }],
  } as Command);
  expect(verdicts.result).toEqual({ ok: true, value: { changed: 5 } });
  expect(writes.runs()).toBe(2);
  const [after] = t.state.jobs.listDeployments({ jobId: "web" });
  expect(after!.groups.web).toMatchObject({ placed: 3, healthy: 2, unhealthy: 1, placedCanaries: [ids[0]!, ids[2]!] });
  expect(after!.status).toBe("failed");
  expect(after!.modifyIndex).toBe(verdicts.index);
  expect(t.state.jobs.listAllocs({ namespace: "default", jobId: "web" }).map((a) => a.health)).toEqual(["healthy", "unhealthy", "healthy", "healthy"]);
});

test("a job's status follows its allocations: pending, running, dead once a batch job's allocations completed", async () => {
  t = await testState();
  await t.propose(registerNode(N1, "n1"));
  await t.propose(registerNode(N2, "n2"));
  const ev = uuid();
  const job = { ...simpleJob("batchy", { count: 2 }), type: "batch" as const };
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job, evalId: ev });
  const status = () => t!.state.jobs.getJob("default", "batchy")!.status;
  expect(status()).toBe("pending");
  const ids = [uuid(), uuid()];
  const plan = await t.propose({
    type: "CommitPlan", v: 1, at: 10, evalId: ev, namespace: "default", jobId: "batchy", jobVersion: 0,
    placements: ids.map((id, i) => ({ ...placement(id, i, ""), group: "web" })), stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [],
  } as Command);
  expect(plan.result.ok).toBe(true);
  expect(status()).toBe("running"); // pending allocations are live
  await t.propose(report(N1, ids[0]!, "running", 20));
  await t.propose(report(N1, ids[0]!, "complete", 21));
  expect(status()).toBe("running"); // one still pending
  const before = t.state.jobs.getJob("default", "batchy")!.modifyIndex;
  await t.propose(report(N2, ids[1]!, "complete", 22));
  const after = t.state.jobs.getJob("default", "batchy")!;
  expect(after.status).toBe("dead");
  expect(after.modifyIndex).toBeGreaterThan(before);
});
