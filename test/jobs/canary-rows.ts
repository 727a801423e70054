// Rows built by hand for the pure canary tests (canary-evaluate, canary-meets):
// two ready nodes, a service job "web" with one group "g", its allocations and
// deployments, and an evaluation input around them.
import type { EvalInput } from "../../core/cluster/scheduling/evaluate.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import type { NodeRow } from "../../core/store/schema.ts";
import type { AllocRow, DeploymentGroup, DeploymentRow, JobRow } from "../../core/store/schema-jobs.ts";
import type { Job } from "../../core/scheduler/index.ts";
import { job } from "./fixtures.ts";

const MIB = 1024 * 1024;

export function node(id: string): NodeRow {
  return {
    id, name: id, address: "127.0.0.1:1", datacenter: "dc1", role: "agent", status: "ready",
    attributes: { "os.name": "linux" }, resources: { cpuMhz: 4000, cores: 4, memoryBytes: 4096 * MIB, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {}, statusChangedAt: 0, createIndex: 1, modifyIndex: 1,
    health: "passing", healthReason: "", healthChangedAt: 0,
  } as NodeRow;
}

export function spec(count: number, command: string, update: Record<string, unknown> = {}): Job {
  return job({
    id: "web", type: "service",
    groups: [{
      name: "g", count, update: { max_parallel: 1, min_healthy_time: "1s", healthy_deadline: "1m", ...update },
      tasks: [{ name: "t", command, resources: { cpu: 100, memory: 64 }, ports: { http: {} } }],
    }],
  });
}

export const jobRow = (s: Job, version: number, extra: Partial<JobRow> = {}): JobRow => ({
  namespace: "default", id: s.id, type: s.type, priority: s.priority, version, status: "running", stop: false, spec: s,
  stableVersion: 0, submitIndex: 1, submittedAt: 0, createIndex: 1, modifyIndex: 1, ...extra,
});

export function alloc(id: string, nodeId: string, index: number, s: Job, extra: Partial<AllocRow> = {}): AllocRow {
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

export function dep(id: string, status: string, version: number, g: Partial<DeploymentGroup>): DeploymentRow {
  return {
    id, namespace: "default", jobId: "web", jobVersion: version, status, statusDescription: "",
    groups: { g: { desired: 2, placed: 0, healthy: 0, unhealthy: 0, autoRevert: false, ...g } }, createdAt: 0, createIndex: 1, modifyIndex: 1,
  };
}

let ids = 0;
export function input(over: Partial<EvalInput>): EvalInput {
  return {
    evalId: "ev-1", namespace: "default", jobId: "web", now: 100_000, job: undefined,
    nodes: [node("n1"), node("n2")], drains: [], jobAllocs: [], otherLive: [], deployments: [],
    preemption: false, newId: () => `id-${++ids}`, ...over,
  };
}

export const v0 = spec(2, "/bin/a", { canary: 1 });
export const v1 = spec(2, "/bin/b", { canary: 1 });
export const old = [alloc("a0", "n1", 0, v0), alloc("a1", "n2", 1, v0)];
export const stable = dep("d0", "successful", 0, {});
