// The jobs state domain: versions, plan verification, status transitions,
// drains, purge, garbage collection, and the drizzle schema against the SQL.
import { afterEach, describe, expect, test } from "bun:test";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import * as schema from "../../core/store/schema.ts";
import type { Command } from "../../core/state/commands.ts";
import { registerNode, simpleJob, testState, uuid, type TestState } from "./fixtures.ts";

let t: TestState;
afterEach(async () => t?.close());

const N1 = uuid(1001);
const N2 = uuid(1002);

function plan(evalId: string, jobVersion: number, placements: any[], stops: any[] = [], extra: Partial<Command> = {}): Command {
  return {
    type: "CommitPlan", v: 1, at: 10, evalId, namespace: "default", jobId: "web", jobVersion,
    placements, stops, evalStatus: "complete", evalDescription: "", failedGroups: [], ...extra,
  } as Command;
}

function placement(id: string, nodeId: string, i: number, cpu = 100, mem = 64, port = 20000 + i) {
  return {
    id, group: "web", taskGroupIndex: i, nodeId, resources: { cpuMhz: cpu, memoryMb: mem },
    ports: [{ task: "srv", label: "http", value: port, static: false }], groupHash: "h1", deploymentId: "", previousAlloc: "", reschedules: [],
  };
}

describe("jobs state", () => {
  test("the drizzle tables match the migration", async () => {
    t = await testState();
    for (const table of [schema.jobs, schema.jobVersions, schema.evaluations, schema.allocations, schema.deployments, schema.nodeDrains]) {
      const { name } = getTableConfig(table);
      const live = (t.store.client.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name).sort();
      const declared = Object.values(getTableColumns(table)).map((c) => c.name).sort();
      expect(live).toEqual(declared);
    }
  });

  test("register creates version 0 and its evaluation; same spec keeps the version, a change bumps it", async () => {
    t = await testState();
    const a = await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web"), evalId: uuid() });
    expect(a.result).toMatchObject({ ok: true, value: { version: 0, changed: true } });
    const b = await t.propose({ type: "RegisterJob", v: 1, at: 2, job: simpleJob("web"), evalId: uuid() });
    expect(b.result.value).toMatchObject({ version: 0, changed: false });
    const c = await t.propose({ type: "RegisterJob", v: 1, at: 3, job: simpleJob("web", { count: 2 }), evalId: uuid() });
    expect(c.result.value).toMatchObject({ version: 1, changed: true });
    expect(t.state.jobs.getJob("default", "web")!.version).toBe(1);
    expect(t.state.jobs.jobVersion("default", "web", 0)!.groups[0]!.count).toBe(1);
    expect(t.state.jobs.listEvals({ jobId: "web" }).map((e) => e.status)).toEqual(["pending", "pending", "pending"]);
    const dup = await t.propose({ type: "RegisterJob", v: 1, at: 4, job: simpleJob("web"), evalId: a.result.value.evalId });
    expect(dup.result.code).toBe("EVAL_EXISTS");
  });

  test("plan verification refuses a placement that no longer fits, or on a down or draining node", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1", { cpuMhz: 1000, memoryMb: 512 }));
    await t.propose(registerNode(N2, "n2", { cpuMhz: 1000, memoryMb: 512 }));
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 3 }), evalId: ev });
    const tooBig = await t.propose(plan(ev, 0, [placement(uuid(), N1, 0, 600), placement(uuid(), N1, 1, 600)]));
    expect(tooBig.result).toMatchObject({ ok: false, code: "PLAN_REJECTED" });
    expect(tooBig.result.message).toContain("cpu 1200 MHz > 1000 MHz");
    const clash = await t.propose(plan(ev, 0, [placement(uuid(), N1, 0, 100, 64, 25000), placement(uuid(), N1, 1, 100, 64, 25000)]));
    expect(clash.result.message).toContain("port 25000");
    const stale = await t.propose(plan(ev, 7, [placement(uuid(), N1, 0)]));
    expect(stale.result.message).toContain("changed");

    const ok = await t.propose(plan(ev, 0, [placement(uuid(), N1, 0, 600)]));
    expect(ok.result).toMatchObject({ ok: true, value: { placed: 1 } });
    expect(t.state.jobs.getEval(ev)!.status).toBe("complete");
    const again = await t.propose(plan(ev, 0, [placement(uuid(), N2, 1)]));
    expect(again.result.message).toContain("already complete");

    const ev2 = uuid();
    await t.propose({ type: "UpdateEvaluation", v: 1, at: 2, evals: [{ id: ev2, namespace: "default", jobId: "web", priority: 50, triggeredBy: "test", nodeId: "", status: "pending", description: "", waitUntil: 0 }] });
    expect((await t.propose(plan(ev2, 0, [placement(uuid(), N1, 1, 600)]))).result.message).toContain("no room");
    // ...unless the plan stops the allocation in the way.
    const first = t.state.jobs.listAllocs({ nodeId: N1 })[0]!;
    const swap = await t.propose(plan(ev2, 0, [placement(uuid(), N1, 1, 600)], [{ allocId: first.id, description: "moved" }]));
    expect(swap.result.ok).toBe(true);

    const ev3 = uuid();
    await t.propose({ type: "UpdateEvaluation", v: 1, at: 2, evals: [{ id: ev3, namespace: "default", jobId: "web", priority: 50, triggeredBy: "test", nodeId: "", status: "pending", description: "", waitUntil: 0 }] });
    await t.propose({ type: "DrainNode", v: 1, at: 3, nodeId: N2, enable: true, deadlineMs: 0 });
    expect((await t.propose(plan(ev3, 0, [placement(uuid(), N2, 2)]))).result.message).toContain("draining");
    await t.propose({ type: "SetNodeStatus", v: 1, at: 4, nodeId: N2, status: "down" });
    await t.propose({ type: "DrainNode", v: 1, at: 5, nodeId: N2, enable: false, deadlineMs: 0 });
    expect((await t.propose(plan(ev3, 0, [placement(uuid(), N2, 2)]))).result.message).toContain("is down");
  });

  test("agents report transitions of their own allocations; terminal is final; lost comes from plans", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 2 }), evalId: ev });
    const [a, b] = ["deadbeef-0000-4000-8000-000000000001", uuid()];
    await t.propose(plan(ev, 0, [placement(a, N1, 0), placement(b, N1, 1)]));
    expect(t.state.jobs.getJob("default", "web")!.status).toBe("running");
    const report = (allocId: string, clientStatus: "running" | "failed", nodeId = N1): Command => ({
      type: "UpdateAllocStatus", v: 1, at: 20, nodeId, updates: [{ allocId, clientStatus, description: "", taskStates: {} }],
    });
    const r1 = await t.propose(report(a, "running"));
    expect(r1.result.value).toEqual({ updated: 1, ignored: [] });
    const modify = t.state.jobs.getAlloc(a)!.modifyIndex;
    expect((await t.propose(report(a, "running"))).result.value.updated).toBe(0);
    expect(t.state.jobs.getAlloc(a)!.modifyIndex).toBe(modify);
    expect((await t.propose(report(a, "running", N2))).result.value.ignored).toEqual([a]);
    await t.propose(report(b, "failed"));
    expect((await t.propose(report(b, "running"))).result.value.ignored).toEqual([b]);

    const ev2 = uuid();
    await t.propose({ type: "UpdateEvaluation", v: 1, at: 2, evals: [{ id: ev2, namespace: "default", jobId: "web", priority: 50, triggeredBy: "node-update", nodeId: N1, status: "pending", description: "", waitUntil: 0 }] });
    await t.propose(plan(ev2, 0, [], [{ allocId: a, clientStatus: "lost", description: "node down" }]));
    expect(t.state.jobs.getAlloc(a)).toMatchObject({ clientStatus: "lost", desiredStatus: "stop" });
    expect(t.state.jobs.getAlloc("deadbe")!.id).toBe(a); // unique prefix
    expect(t.state.jobs.getAlloc("000")).toBeUndefined(); // too short
  });

  test("deregister stops, purge forgets; the stopping plan collects the job's allocations", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web"), evalId: ev });
    const a = uuid();
    await t.propose(plan(ev, 0, [placement(a, N1, 0)]));
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: 20, nodeId: N1, updates: [{ allocId: a, clientStatus: "running", description: "", taskStates: {} }] });
    const stop = uuid();
    expect((await t.propose({ type: "DeregisterJob", v: 1, at: 30, namespace: "default", jobId: "web", purge: true, evalId: stop })).result.ok).toBe(true);
    expect(t.state.jobs.getJob("default", "web")).toBeUndefined();
    await t.propose(plan(stop, -1, [], [{ allocId: a, description: "job stopped" }]));
    expect(t.state.jobs.getAlloc(a)!.desiredStatus).toBe("stop"); // still running on its agent: kept
    // Once its agent reports it stopped, a purged job's allocation is collected.
    await t.propose({ type: "UpdateAllocStatus", v: 1, at: 40, nodeId: N1, updates: [{ allocId: a, clientStatus: "complete", description: "", taskStates: {} }] });
    expect(t.state.jobs.getAlloc(a)).toBeUndefined();
    expect((await t.propose({ type: "DeregisterJob", v: 1, at: 30, namespace: "default", jobId: "web", purge: false, evalId: uuid() })).result.code).toBe("JOB_NOT_FOUND");
  });

  test("deployment health counts per group; success marks the version stable", async () => {
    t = await testState();
    await t.propose(registerNode(N1, "n1"));
    const ev = uuid();
    await t.propose({ type: "RegisterJob", v: 1, at: 1, job: simpleJob("web", { count: 2 }), evalId: ev });
    const dep = uuid();
    const [a, b] = [uuid(), uuid()];
    await t.propose(plan(ev, 0, [{ ...placement(a, N1, 0), deploymentId: dep }, { ...placement(b, N1, 1), deploymentId: dep }], [], {
      deployment: { id: dep, groups: { web: { desired: 2, autoRevert: false } } },
    } as never));
    await t.propose({ type: "UpdateDeployment", v: 1, at: 5, health: [{ allocId: a, healthy: true, description: "" }, { allocId: b, healthy: true, description: "" }], deployments: [] });
    expect(t.state.jobs.listDeployments({ jobId: "web" })[0]!.groups.web).toMatchObject({ desired: 2, placed: 2, healthy: 2, unhealthy: 0 });
    await t.propose({ type: "UpdateDeployment", v: 1, at: 6, health: [{ allocId: a, healthy: false, description: "late" }], deployments: [{ id: dep, status: "successful", description: "" }] });
    expect(t.state.jobs.getAlloc(a)!.health).toBe("healthy"); // a verdict is final
    expect(t.state.jobs.getJob("default", "web")!.stableVersion).toBe(0);
  });
});
