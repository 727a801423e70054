// The leader's rules around system jobs and templates (evaluate.ts), pure:
// preemption for system jobs whatever [leader] scheduler_preemption says,
// a failed system allocation held on its node until its reschedule delay,
// rolling updates without a deployment, templates that place nothing.
import { describe, expect, test } from "bun:test";
import { evaluate, type EvalInput } from "../../core/cluster/scheduling/evaluate.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import type { NodeRow } from "../../core/store/schema.ts";
import type { AllocRow, JobRow } from "../../core/store/schema-jobs.ts";
import type { Job } from "../../core/scheduler/index.ts";
import { job } from "./fixtures.ts";

const MIB = 1024 * 1024;

function node(id: string, cpu = 1000): NodeRow {
  return {
    id, name: id, address: "127.0.0.1:1", datacenter: "dc1", role: "agent", status: "ready",
    attributes: {}, resources: { cpuMhz: cpu, cores: 1, memoryBytes: 4096 * MIB, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {}, statusChangedAt: 0, createIndex: 1, modifyIndex: 1,
    health: "passing", healthReason: "", healthChangedAt: 0,
  } as NodeRow;
}

function sys(opts: { command?: string; maxParallel?: number; type?: string; extra?: Record<string, unknown> } = {}): Job {
  return job({
    id: "sys", type: opts.type ?? "system", priority: 80, ...opts.extra,
    groups: [{
      name: "g", update: { max_parallel: opts.maxParallel ?? 1 }, reschedule: { delay: "10s", unlimited: true },
      tasks: [{ name: "t", command: opts.command ?? "/bin/a", resources: { cpu: 300, memory: 64 } }],
    }],
  });
}

function row(s: Job): JobRow {
  return {
    namespace: "default", id: s.id, type: s.type, priority: s.priority, version: 0, status: "running", stop: false, spec: s,
    stableVersion: null, submitIndex: 1, submittedAt: 0, createIndex: 1, modifyIndex: 1,
  };
}

function alloc(id: string, nodeId: string, s: Job, extra: Partial<AllocRow> = {}): AllocRow {
  const g = s.groups[0]!;
  return {
    id, namespace: "default", jobId: s.id, jobVersion: 0, jobType: s.type, groupName: g.name, taskGroupIndex: 0,
    groupHash: groupHash(s, g), groupSpec: g, nodeId, evalId: "e0", priority: s.priority,
    resources: { cpuMhz: 300, memoryMb: 64 }, ports: [],
    desiredStatus: "run", desiredDescription: "", clientStatus: "running", clientDescription: "", taskStates: {},
    health: "", deploymentId: "", previousAlloc: "", reschedules: [], createdAt: 0, modifiedAt: 0, createIndex: 1, modifyIndex: 1,
    ...extra,
  };
}

let ids = 0;
function input(s: Job, over: Partial<EvalInput>): EvalInput {
  return {
    evalId: "ev-1", namespace: "default", jobId: s.id, now: 100_000, job: row(s),
    nodes: [node("n1"), node("n2")], drains: [], jobAllocs: [], otherLive: [], deployments: [],
    preemption: false, newId: () => `id-${++ids}`, ...over,
  };
}

describe("evaluate: system jobs", () => {
  test("preempt lower-priority work even with scheduler_preemption off; no deployment", () => {
    const s = sys();
    const low = job({ id: "low", priority: 20, groups: [{ name: "g", tasks: [{ name: "t", command: "/x", resources: { cpu: 900, memory: 64 } }] }] });
    const victim = { ...alloc("v1", "n1", low), resources: { cpuMhz: 900, memoryMb: 64 } };
    const out = evaluate(input(s, { otherLive: [victim], preemption: false }));
    expect(out.commit.placements.map((p) => p.nodeId).sort()).toEqual(["n1", "n2"]);
    expect(out.commit.stops.map((x) => x.allocId)).toEqual(["v1"]);
    expect(out.commit.deployment).toBeUndefined();
    // A batch job at the same priority does not preempt with the flag off.
    const b = job({ id: "b", type: "batch", priority: 80, groups: [{ name: "g", count: 2, constraints: [{ operator: "distinct_hosts" }], tasks: [{ name: "t", command: "/x", resources: { cpu: 300, memory: 64 } }] }] });
    expect(evaluate(input(b, { otherLive: [victim], preemption: false })).commit.stops).toEqual([]);
  });

  test("a failed allocation holds its node until the reschedule delay, then is replaced there", () => {
    const s = sys();
    const failed = alloc("f1", "n1", s, { clientStatus: "failed", modifiedAt: 95_000 });
    const ok = alloc("r2", "n2", s, { taskGroupIndex: 1 });
    const early = evaluate(input(s, { jobAllocs: [failed, ok], now: 100_000 }));
    expect(early.commit.placements).toEqual([]);
    expect(early.retryAt).toBe(105_000);
    const due = evaluate(input(s, { jobAllocs: [failed, ok], now: 106_000 }));
    expect(due.commit.placements.map((p) => [p.nodeId, p.previousAlloc])).toEqual([["n1", "f1"]]);
  });

  test("a changed task rolls max_parallel nodes at a time, each until it runs", () => {
    const old = sys({ command: "/bin/old" });
    const s = sys({ command: "/bin/new" });
    const allocs = [alloc("o1", "n1", old), alloc("o2", "n2", old, { taskGroupIndex: 1 })];
    const first = evaluate(input(s, { jobAllocs: allocs }));
    expect(first.commit.stops.map((x) => x.allocId)).toEqual(["o1"]);
    expect(first.commit.placements.map((p) => [p.nodeId, p.previousAlloc])).toEqual([["n1", "o1"]]);
    // The replacement is placed but not running yet: nothing more moves.
    const placed = alloc("n-1", "n1", s, { clientStatus: "pending" });
    const stopped = { ...allocs[0]!, desiredStatus: "stop" as const };
    expect(evaluate(input(s, { jobAllocs: [stopped, allocs[1]!, placed] })).commit.stops).toEqual([]);
    // Once it runs, the next node goes.
    const runningNow = { ...placed, clientStatus: "running" as const };
    expect(evaluate(input(s, { jobAllocs: [stopped, allocs[1]!, runningNow] })).commit.stops.map((x) => x.allocId)).toEqual(["o2"]);
  });
});

describe("evaluate: templates", () => {
  test("a periodic or parameterized job places nothing; its child does", () => {
    const periodic = sys({ type: "batch", extra: { periodic: { crons: ["@daily"] } } });
    expect(evaluate(input(periodic, {})).commit.placements).toEqual([]);
    const param = sys({ type: "sysbatch", extra: { parameterized: {} } });
    expect(evaluate(input(param, {})).commit.placements).toEqual([]);
    const child = { ...param, id: "sys/dispatch-1-abcd", parentId: "sys", parameterized: undefined };
    expect(evaluate(input(child, { jobId: child.id })).commit.placements.length).toBe(2);
  });
});
