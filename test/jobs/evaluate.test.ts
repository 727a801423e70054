// The leader's pure parts: one evaluation (updates, reschedules, drains,
// lost nodes, stopped jobs), the reschedule and health policies, and
// deployment outcomes. Rows are built by hand; time is a number.
import { describe, expect, test } from "bun:test";
import { evaluate, type EvalInput } from "../../core/cluster/scheduling/evaluate.ts";
import { allocHealth, rescheduleDecision, settled } from "../../core/cluster/scheduling/policy.ts";
import { assessHealth, deploymentOutcome } from "../../core/cluster/scheduling/health.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import type { NodeRow } from "../../core/store/schema.ts";
import type { AllocRow, DeploymentRow, JobRow, TaskState } from "../../core/store/schema-jobs.ts";
import type { Job } from "../../core/scheduler/index.ts";
import { job } from "./fixtures.ts";

const MIB = 1024 * 1024;

function node(id: string, status: "ready" | "down" = "ready", cpu = 4000, memMb = 4096): NodeRow {
  return {
    id, name: id, address: "127.0.0.1:1", datacenter: "dc1", role: "agent", status,
    attributes: { "os.name": "linux" }, resources: { cpuMhz: cpu, cores: 4, memoryBytes: memMb * MIB, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {}, statusChangedAt: 0, createIndex: 1, modifyIndex: 1,
    health: "passing", healthReason: "", healthChangedAt: 0,
  } as NodeRow;
}

function spec(count: number, opts: { command?: string; maxParallel?: number; reschedule?: Record<string, unknown>; type?: string } = {}): Job {
  return job({
    id: "web", type: opts.type ?? "service",
    groups: [{
      name: "g", count, update: { max_parallel: opts.maxParallel ?? 1, min_healthy_time: "1s", healthy_deadline: "1m" },
      reschedule: opts.reschedule ?? { delay: "10s", unlimited: true },
      tasks: [{ name: "t", command: opts.command ?? "/bin/a", resources: { cpu: 100, memory: 64 }, ports: { http: {} } }],
    }],
  });
}

function jobRow(s: Job, version = 0, extra: Partial<JobRow> = {}): JobRow {
  return {
    namespace: "default", id: s.id, type: s.type, priority: s.priority, version, status: "running", stop: false, spec: s,
    stableVersion: null, submitIndex: 1, submittedAt: 0, createIndex: 1, modifyIndex: 1, ...extra,
  };
}

const running = (startedAt: number): Record<string, TaskState> => ({
  t: { state: "running", failed: false, restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt, finishedAt: 0, events: [] },
});

function alloc(id: string, nodeId: string, index: number, s: Job, extra: Partial<AllocRow> = {}): AllocRow {
  const g = s.groups[0]!;
  return {
    id, namespace: "default", jobId: s.id, jobVersion: 0, jobType: s.type, groupName: g.name, taskGroupIndex: index,
    groupHash: groupHash(s, g), groupSpec: g, nodeId, evalId: "e0", priority: 50,
    resources: { cpuMhz: 100, memoryMb: 64 }, ports: [{ task: "t", label: "http", value: 20000 + index, static: false }],
    desiredStatus: "run", desiredDescription: "", clientStatus: "running", clientDescription: "", taskStates: running(0),
    health: "healthy", deploymentId: "", previousAlloc: "", reschedules: [], createdAt: 0, modifiedAt: 0, createIndex: 1, modifyIndex: 1,
    ...extra,
  };
}

let ids = 0;
function input(over: Partial<EvalInput>): EvalInput {
  const s = spec(2);
  return {
    evalId: "ev-1", namespace: "default", jobId: "web", now: 100_000, job: jobRow(s),
    nodes: [node("n1"), node("n2")], drains: [], jobAllocs: [], otherLive: [], deployments: [],
    preemption: false, newId: () => `id-${++ids}`, ...over,
  };
}

describe("evaluate", () => {
  test("a new service job places every index and opens a deployment", () => {
    const out = evaluate(input({}));
    expect(out.commit.placements.map((p) => p.taskGroupIndex).sort()).toEqual([0, 1]);
    expect(out.commit.deployment?.groups.g).toEqual({ desired: 2, autoRevert: false });
    expect(out.commit.placements.every((p) => p.deploymentId === out.commit.deployment!.id)).toBe(true);
    expect(out.commit.evalStatus).toBe("complete");
  });

  test("a stopped job stops everything it runs; a purged one too", () => {
    const s = spec(2);
    const allocs = [alloc("a0", "n1", 0, s), alloc("a1", "n2", 1, s)];
    const stopped = evaluate(input({ job: jobRow(s, 0, { stop: true }), jobAllocs: allocs }));
    expect(stopped.commit.placements).toEqual([]);
    expect(stopped.commit.stops.map((x) => x.description)).toEqual(["job stopped", "job stopped"]);
    const purged = evaluate(input({ job: undefined, jobAllocs: allocs }));
    expect(purged.commit.jobVersion).toBe(-1);
    expect(purged.commit.stops).toHaveLength(2);
  });

  test("allocations of a down node are lost and replaced on another node", () => {
    const s = spec(2);
    const out = evaluate(input({ nodes: [node("n1", "down"), node("n2")], jobAllocs: [alloc("a0", "n1", 0, s), alloc("a1", "n2", 1, s)], deployments: [dep(s, "d0", "successful")] }));
    expect(out.commit.stops).toEqual([{ allocId: "a0", clientStatus: "lost", description: expect.stringContaining("down") }]);
    expect(out.commit.placements).toHaveLength(1);
    expect(out.commit.placements[0]).toMatchObject({ nodeId: "n2", taskGroupIndex: 0, previousAlloc: "a0" });
  });

  test("a rolling update replaces max_parallel at a time and waits for the new ones to be healthy", () => {
    const v0 = spec(3, { maxParallel: 1 });
    const v1 = spec(3, { maxParallel: 1, command: "/bin/b" });
    const old = [0, 1, 2].map((i) => alloc(`a${i}`, i === 2 ? "n2" : "n1", i, v0));
    const first = evaluate(input({ job: jobRow(v1, 1), jobAllocs: old, deployments: [dep(v0, "d0", "successful")] }));
    expect(first.commit.stops.map((x) => x.allocId)).toEqual(["a0"]);
    expect(first.commit.placements).toMatchObject([{ taskGroupIndex: 0, previousAlloc: "a0", groupHash: groupHash(v1, v1.groups[0]!) }]);
    const depId = first.commit.deployment!.id;

    const placed = alloc("b0", "n2", 0, v1, { deploymentId: depId, health: "", clientStatus: "running" });
    const stoppedA0 = { ...old[0]!, desiredStatus: "stop" as const };
    const waiting = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [stoppedA0, old[1]!, old[2]!, placed], deployments: [dep(v1, depId, "running", 1), dep(v0, "d0", "successful")] }));
    expect(waiting.commit.stops).toEqual([]); // b0 not healthy yet: the budget is used
    expect(waiting.commit.placements).toEqual([]);

    const healthy = { ...placed, health: "healthy" };
    const next = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [stoppedA0, old[1]!, old[2]!, healthy], deployments: [dep(v1, depId, "running", 1), dep(v0, "d0", "successful")] }));
    expect(next.commit.stops.map((x) => x.allocId)).toEqual(["a1"]);
    expect(next.commit.placements[0]!.deploymentId).toBe(depId);
  });

  test("a failed allocation is replaced only after the reschedule delay, and never past its attempts", () => {
    const s = spec(1, { reschedule: { delay: "10s", attempts: 1, interval: "1h", unlimited: false } });
    const failed = alloc("a0", "n1", 0, s, { clientStatus: "failed", modifiedAt: 95_000 });
    const early = evaluate(input({ job: jobRow(s), jobAllocs: [failed], deployments: [dep(s, "d0", "successful")] }));
    expect(early.commit.placements).toEqual([]);
    expect(early.retryAt).toBe(105_000);
    const due = evaluate(input({ now: 106_000, job: jobRow(s), jobAllocs: [failed], deployments: [dep(s, "d0", "successful")] }));
    expect(due.commit.placements[0]).toMatchObject({ previousAlloc: "a0", reschedules: [106_000] });
    const again = alloc("a1", "n2", 0, s, { clientStatus: "failed", modifiedAt: 110_000, reschedules: [106_000], previousAlloc: "a0" });
    const never = evaluate(input({ now: 200_000, job: jobRow(s), jobAllocs: [failed, again], deployments: [dep(s, "d0", "successful")] }));
    expect(never.commit.placements).toEqual([]);
    expect(never.retryAt).toBeUndefined();
  });

  test("a drain moves max_parallel allocations of a group at a time, all of them past the deadline", () => {
    const s = spec(3, { maxParallel: 1 });
    const allocs = [0, 1, 2].map((i) => alloc(`a${i}`, "n1", i, s));
    const drains = [{ nodeId: "n1", startedAt: 0, deadlineAt: 0, createIndex: 1, modifyIndex: 1 }];
    const out = evaluate(input({ job: jobRow(s), jobAllocs: allocs, drains, deployments: [dep(s, "d0", "successful")] }));
    expect(out.commit.stops.map((x) => x.allocId)).toEqual(["a0"]);
    expect(out.commit.placements).toMatchObject([{ nodeId: "n2", taskGroupIndex: 0 }]);
    const late = evaluate(input({ job: jobRow(s), jobAllocs: allocs, drains: [{ ...drains[0]!, deadlineAt: 50_000 }], deployments: [dep(s, "d0", "successful")] }));
    expect(late.commit.stops).toHaveLength(3);
  });

  test("no room: the evaluation is blocked with the per-allocation need", () => {
    const out = evaluate(input({ nodes: [node("n1", "ready", 150, 4096)], job: jobRow(spec(2)) }));
    expect(out.commit.evalStatus).toBe("blocked");
    expect(out.commit.placements).toHaveLength(1);
    expect(out.needs).toEqual([{ cpuMhz: 100, memoryMb: 64 }]);
  });
});

function dep(s: Job, id: string, status: string, version = 0): DeploymentRow {
  return {
    id, namespace: "default", jobId: s.id, jobVersion: version, status, statusDescription: "",
    groups: { g: { desired: s.groups[0]!.count, placed: 0, healthy: 0, unhealthy: 0, autoRevert: false } }, createdAt: 0, createIndex: 1, modifyIndex: 1,
  };
}

describe("policies", () => {
  test("reschedule: delay, attempts within the interval, unlimited", () => {
    const p = { attempts: 2, intervalMs: 60_000, delayMs: 5_000, unlimited: false };
    expect(rescheduleDecision({ reschedules: [], modifiedAt: 1000 }, p, 3000)).toEqual({ kind: "later", at: 6000 });
    expect(rescheduleDecision({ reschedules: [], modifiedAt: 1000 }, p, 7000)).toEqual({ kind: "now", reschedules: [7000] });
    expect(rescheduleDecision({ reschedules: [10_000, 20_000], modifiedAt: 30_000 }, p, 40_000).kind).toBe("never");
    // old attempts leave the window
    expect(rescheduleDecision({ reschedules: [10_000, 20_000], modifiedAt: 65_000 }, p, 75_000)).toEqual({ kind: "now", reschedules: [20_000, 75_000] });
    expect(rescheduleDecision({ reschedules: [1, 2, 3], modifiedAt: 0 }, { ...p, unlimited: true }, 10_000).kind).toBe("now");
  });

  test("health: min_healthy_time, checks, deadline, failures", () => {
    const s = spec(1);
    const u = s.groups[0]!.update; // 1s healthy time, 1m deadline
    const a = alloc("a", "n1", 0, s, { health: "", taskStates: running(10_000), createdAt: 9_000 });
    expect(allocHealth(a, [], 10_500, u)).toBeUndefined();
    expect(allocHealth(a, [], 11_000, u)?.healthy).toBe(true);
    expect(allocHealth(a, ["passing", "critical"], 11_000, u)).toBeUndefined();
    expect(allocHealth(a, ["critical"], 70_000, u)).toEqual({ healthy: false, description: expect.stringContaining("healthy_deadline") });
    expect(allocHealth({ ...a, clientStatus: "failed" }, [], 10_000, u)?.healthy).toBe(false);
    expect(allocHealth({ ...a, health: "healthy" }, [], 99_000, u)).toBeUndefined();
    expect(settled({ ...a, health: "healthy" })).toBe(true);
    expect(settled(a)).toBe(false);
  });

  test("deployment outcome: successful when every group runs count healthy allocations of its version", () => {
    const s = spec(2);
    const d = dep(s, "d1", "running");
    const j = jobRow(s);
    const a0 = alloc("a0", "n1", 0, s, { deploymentId: "d1" });
    const a1 = alloc("a1", "n2", 1, s, { deploymentId: "d1", health: "" });
    expect(deploymentOutcome(d, j, [a0, a1])).toBeUndefined();
    expect(deploymentOutcome(d, j, [a0, { ...a1, health: "healthy" }])?.status).toBe("successful");
    expect(deploymentOutcome(d, j, [a0, { ...a1, health: "unhealthy" }])?.status).toBe("failed");
    expect(deploymentOutcome(d, { ...j, version: 3 }, [a0])?.status).toBe("cancelled");
  });

  test("a failed deployment with auto_revert asks to go back to the stable version", () => {
    const s = job({ id: "web", groups: [{ name: "g", count: 1, update: { auto_revert: true, min_healthy_time: "1s", healthy_deadline: "1m" }, tasks: [{ name: "t", command: "/bin/a" }] }] });
    const j = jobRow(s, 2, { stableVersion: 1 });
    const d = { ...dep(s, "d2", "running", 2), groups: { g: { desired: 1, placed: 1, healthy: 0, unhealthy: 0, autoRevert: true } } };
    const bad = alloc("a", "n1", 0, s, { deploymentId: "d2", health: "", clientStatus: "failed" });
    const out = assessHealth({ now: 1, candidates: [bad], checks: () => [], job: () => j, running: [d], jobAllocs: () => [bad] });
    expect(out.health).toEqual([{ allocId: "a", healthy: false, description: "allocation failed" }]);
    expect(out.deployments[0]!.status).toBe("failed");
    expect(out.reverts).toEqual([{ namespace: "default", jobId: "web", stableVersion: 1, failedVersion: 2 }]);
  });
});
