// Where canaries meet the other workload features (pure, rows by hand):
// an operator's `alloc stop` of a canary, an in-place change and a
// constraint change registered while canaries wait, and what `job plan`
// says meanwhile.
import { describe, expect, test } from "bun:test";
import { evaluate, type EvalInput } from "../../core/cluster/scheduling/evaluate.ts";
import { annotatePlan } from "../../core/cluster/scheduling/plan-annotate.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import type { NodeRow } from "../../core/store/schema.ts";
import type { AllocRow, DeploymentGroup, DeploymentRow, JobRow } from "../../core/store/schema-jobs.ts";
import type { Job } from "../../core/scheduler/index.ts";
import { job } from "./fixtures.ts";

const MIB = 1024 * 1024;

function node(id: string): NodeRow {
  return {
    id, name: id, address: "127.0.0.1:1", datacenter: "dc1", role: "agent", status: "ready",
    attributes: { "os.name": "linux" }, resources: { cpuMhz: 4000, cores: 4, memoryBytes: 4096 * MIB, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {}, statusChangedAt: 0, createIndex: 1, modifyIndex: 1,
    health: "passing", healthReason: "", healthChangedAt: 0,
  } as NodeRow;
}

function spec(count: number, command: string, update: Record<string, unknown> = {}): Job {
  return job({
    id: "web", type: "service",
    groups: [{
      name: "g", count, update: { max_parallel: 1, min_healthy_time: "1s", healthy_deadline: "1m", ...update },
      tasks: [{ name: "t", command, resources: { cpu: 100, memory: 64 }, ports: { http: {} } }],
    }],
  });
}

const jobRow = (s: Job, version: number, extra: Partial<JobRow> = {}): JobRow => ({
  namespace: "default", id: s.id, type: s.type, priority: s.priority, version, status: "running", stop: false, spec: s,
  stableVersion: 0, submitIndex: 1, submittedAt: 0, createIndex: 1, modifyIndex: 1, ...extra,
});

function alloc(id: string, nodeId: string, index: number, s: Job, extra: Partial<AllocRow> = {}): AllocRow {
  const g = s.groups[0]!;
  return {
    id, namespace: "default", jobId: s.id, jobVersion: 0, jobType: s.type, groupName: g.name, taskGroupIndex: index,
    groupHash: groupHash(s, g), groupSpec: g, nodeId, evalId: "e0", priority: 50,
    resources: { cpuMhz: 100, memoryMb: 64 }, ports: [{ task: "t", label: "http", value: 20000 + index, static: false }],
    desiredStatus: "run", desiredDescription: "", clientStatus: "running", clientDescription: "", taskStates: {},
    health: "healthy", deploymentId: "", previousAlloc: "", reschedules: [], createdAt: 0, modifiedAt: 0, createIndex: 1, modifyIndex: 1,
    ...extra,
  };
}

function dep(id: string, status: string, version: number, g: Partial<DeploymentGroup>): DeploymentRow {
  return {
    id, namespace: "default", jobId: "web", jobVersion: version, status, statusDescription: "",
    groups: { g: { desired: 2, placed: 0, healthy: 0, unhealthy: 0, autoRevert: false, ...g } }, createdAt: 0, createIndex: 1, modifyIndex: 1,
  };
}

let ids = 0;
function input(over: Partial<EvalInput>): EvalInput {
  return {
    evalId: "ev-1", namespace: "default", jobId: "web", now: 100_000, job: undefined,
    nodes: [node("n1"), node("n2")], drains: [], jobAllocs: [], otherLive: [], deployments: [],
    preemption: false, newId: () => `id-${++ids}`, ...over,
  };
}

const v0 = spec(2, "/bin/a", { canary: 1 });
const v1 = spec(2, "/bin/b", { canary: 1 });
const old = [alloc("a0", "n1", 0, v0), alloc("a1", "n2", 1, v0)];
const stable = dep("d0", "successful", 0, {});

describe("canaries meet in-place updates, alloc stop and plan", () => {
  const d1 = () => dep("d1", "running", 1, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });

  test("alloc stop of a waiting canary: a new canary of the same deployment is placed, the old allocations stay", () => {
    const stopped = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1, desiredStatus: "stop", desiredDescription: "stopped by an operator (alloc stop)" });
    const out = evaluate(input({ job: jobRow(v1, 1), jobAllocs: [...old, stopped], deployments: [d1(), stable] }));
    expect(out.commit.placements.map((p) => [p.canary, p.taskGroupIndex, p.deploymentId])).toEqual([[true, 0, "d1"]]);
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.inPlace ?? []).toEqual([]);
  });

  test("an in-place change (restart policy) registered while canaries wait: the waiting deployment is superseded, its canary stops, a new canary is placed; the old allocations stay", () => {
    const v2 = spec(2, "/bin/b", { canary: 1 });
    v2.groups[0]!.restart = { ...v2.groups[0]!.restart, attempts: 7 };
    const canary = alloc("c0", "n2", 0, v1, { deploymentId: "d1", jobVersion: 1 });
    const out = evaluate(input({ job: jobRow(v2, 2), jobAllocs: [...old, canary], deployments: [d1(), stable] }));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["c0"]);
    expect(out.commit.placements.map((p) => p.canary)).toEqual([true]);
    expect(out.commit.deployment?.groups.g?.canaries).toBe(1);
    // The old allocations' tasks differ from v2: not in place, not replaced either (they wait for the promotion).
    expect(out.commit.inPlace ?? []).toEqual([]);
  });

  test("a constraint change while canaries wait does not move the old allocations (their tasks are outdated: the promotion replaces them)", () => {
    const v2 = spec(2, "/bin/b", { canary: 1 });
    v2.groups[0]!.constraints = [{ attribute: "${node.unique.name}", operator: "=", value: "n1" }];
    const canary = alloc("c0", "n1", 0, v2, { deploymentId: "d2", jobVersion: 2 });
    const d2 = dep("d2", "running", 2, { desiredCanaries: 1, placedCanaries: ["c0"], promoted: false });
    const out = evaluate(input({ job: jobRow(v2, 2), jobAllocs: [...old, canary], deployments: [d2, stable] }));
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.placements).toEqual([]);
  });

  test("plan while canaries are placed for the first time: 1 canary, the outdated ones ignored (not create/destroy)", () => {
    const out = evaluate(input({ job: jobRow(v0, 0), jobAllocs: old, deployments: [stable] }));
    expect(out.commit.placements).toEqual([]);
    const planned = evaluate(input({ job: jobRow(v1, 1), jobAllocs: old, deployments: [stable] }));
    expect(annotatePlan(v1, old, planned).groups).toEqual({ g: { canary: 1, ignore: 2 } });
    // Without canaries the same change replaces both (and says so).
    const plain = spec(2, "/bin/b");
    const rolled = evaluate(input({ job: jobRow(plain, 1), jobAllocs: old, deployments: [stable] }));
    expect(annotatePlan(plain, old, rolled).groups).toEqual({ g: { "create/destroy update": 2 } });
  });
});
