// The placement path's prepared statements (core/state/domains/jobs-prepared.ts),
// under Bun (prepared.test.ts, bun:sqlite) and Node (prepared.node.ts,
// better-sqlite3): each is built once per store and reused, answers what a
// freshly built query answers, writes JSON columns as the ad-hoc query did,
// and belongs to its own store.
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import type { Command } from "../../core/state/commands.ts";
import { allocations, jobs } from "../../core/store/schema-jobs.ts";
import { nodes } from "../../core/store/schema.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "../jobs/fixtures.ts";

type TestFn = (name: string, fn: () => void | Promise<void>) => void;

const N1 = uuid(9101);
const N2 = uuid(9102);

function plan(evalId: string, ids: string[], firstPort: number): Command {
  return {
    type: "CommitPlan", v: 1, at: 10, evalId, namespace: "default", jobId: "web", jobVersion: 0,
    placements: ids.map((id, i) => ({
      id, group: "web", taskGroupIndex: i, nodeId: i % 2 ? N2 : N1, resources: { cpuMhz: 100, memoryMb: 64 },
      ports: [{ task: "srv", label: "http", value: firstPort + i, static: false }], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
    })),
    stops: [], evalStatus: "complete", evalDescription: "", failedGroups: [],
  } as Command;
}

const running = (nodeId: string, allocId: string, at: number): Command => ({
  type: "UpdateAllocStatus", v: 1, at, nodeId,
  updates: [{ allocId, clientStatus: "running", description: "started", taskStates: { srv: { state: "running", failed: false, restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt: at, finishedAt: 0, events: [] } } }],
});

/** Two nodes, a job of two evaluations; the first plan placed and its allocations running. */
async function cluster(): Promise<{ t: TestState; ev2: string; first: string[] }> {
  const t = await testState();
  await t.propose(registerNode(N1, "n1"));
  await t.propose(registerNode(N2, "n2"));
  const ev1 = uuid();
  const ev2 = uuid();
  await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 4 }), evalId: ev1 });
  await t.propose({ type: "UpdateEvaluation", v: 1, at: 2, evals: [{ id: ev2, namespace: "default", jobId: "web", priority: 50, triggeredBy: "test", nodeId: "", status: "pending", description: "", waitUntil: 0 }] });
  const first = [uuid(), uuid()];
  assert.equal((await t.propose(plan(ev1, first, 21000))).result.ok, true);
  await t.propose(running(N1, first[0]!, 20));
  await t.propose(running(N2, first[1]!, 20));
  return { t, ev2, first };
}

/** SQL texts the store's client is asked to compile for the job tables while fn runs. */
async function compiledDuring(t: TestState, fn: () => Promise<void> | void): Promise<string[]> {
  const client = t.store.client as { prepare(sql: string): unknown };
  const original = client.prepare;
  const seen: string[] = [];
  client.prepare = function (this: unknown, sql: string) {
    if (/"(allocations|jobs|nodes|evaluations|node_drains|deployments)"/.test(sql)) seen.push(sql);
    return original.call(client, sql);
  };
  try {
    await fn();
  } finally {
    client.prepare = original;
  }
  return seen;
}

export function preparedContract(test: TestFn): void {
  test("the placement path's reads and appliers build no statement after their first use", async () => {
    const { t, ev2, first } = await cluster();
    try {
      const reads = () => {
        const j = t.state.jobs;
        for (const id of first) assert.equal(j.getAlloc(id)?.id, id);
        assert.equal(j.getJob("default", "web")?.id, "web");
        assert.equal(t.state.getNode(N1)?.name, "n1");
        assert.equal(t.state.getNode("n2")?.id, N2);
        assert.equal(j.listAllocs({ nodeId: N1 }).length > 0, true);
        assert.equal(j.listAllocs({ namespace: "default", jobId: "web" }).length > 0, true);
        assert.equal(j.nodeAllocIndex(N1) > 1, true);
        assert.equal(j.getEval(ev2)?.status, "pending");
      };
      reads(); // the first use builds them
      const second = [uuid(), uuid()];
      const built = await compiledDuring(t, async () => {
        for (let i = 0; i < 20; i++) reads();
        // Plan verification and inserts, status updates, the job-status refresh and per-job GC.
        assert.equal((await t.propose(plan(ev2, second, 22000))).result.ok, true);
        await t.propose(running(N1, second[0]!, 30));
        await t.propose(running(N2, second[1]!, 30));
      });
      assert.deepEqual(built, []);
    } finally {
      await t.close();
    }
  });

  test("prepared reads answer what freshly built queries answer, JSON columns included", async () => {
    const { t, first } = await cluster();
    try {
      const db = t.store.db;
      const j = t.state.jobs;
      const a = j.getAlloc(first[0]!)!;
      assert.deepEqual(a, db.select().from(allocations).where(eq(allocations.id, first[0]!)).get());
      // Written by the prepared insert and status update, read back as objects.
      assert.equal(a.groupSpec.name, "web");
      assert.deepEqual(a.ports, [{ task: "srv", label: "http", value: 21000, static: false }]);
      assert.equal(a.taskStates.srv?.state, "running");
      assert.equal(a.clientStatus, "running");
      assert.deepEqual(j.getJob("default", "web"), db.select().from(jobs).where(eq(jobs.id, "web")).get());
      assert.equal(j.getJob("default", "web")?.status, "running"); // the prepared job-status refresh
      assert.deepEqual(t.state.getNode(N2), db.select().from(nodes).where(eq(nodes.id, N2)).get());
      assert.deepEqual(j.listAllocs({ nodeId: N2 }).map((r) => r.id), [first[1]]);
      assert.equal(j.getJob("default", "nope"), undefined);
      assert.equal(t.state.getNode("nope"), undefined);
      assert.equal(j.getAlloc("00000000-0000-4000-8000-ffffffffffff"), undefined);
    } finally {
      await t.close();
    }
  });

  test("each store runs its own statements", async () => {
    const one = await cluster();
    const other = await testState();
    try {
      await other.propose(registerNode(N1, "elsewhere"));
      assert.equal(one.t.state.getNode(N1)?.name, "n1");
      assert.equal(other.state.getNode(N1)?.name, "elsewhere");
      assert.equal(other.state.jobs.getJob("default", "web"), undefined);
      assert.equal(one.t.state.jobs.getJob("default", "web")?.id, "web");
    } finally {
      await one.t.close();
      await other.close();
    }
  });
}
