// In-place updates re-check the allocation's node (Nomad's inplaceUpdate):
// a change of constraints that excludes a node turns the update of the
// allocation there destructive, the others stay in place. Pure: rows built
// by hand, evaluate() and inPlaceMisfit() called directly.
import { describe, expect, test } from "bun:test";
import { evaluate, type EvalInput } from "../../core/cluster/scheduling/evaluate.ts";
import { annotatePlan } from "../../core/cluster/scheduling/plan-annotate.ts";
import { groupHash } from "../../core/cluster/scheduling/views.ts";
import { inPlaceMisfit } from "../../core/scheduler/inplace-fit.ts";
import type { NodeRow } from "../../core/store/schema.ts";
import type { AllocRow, JobRow } from "../../core/store/schema-jobs.ts";
import type { Job } from "../../core/scheduler/index.ts";
import { job } from "./fixtures.ts";

const MIB = 1024 * 1024;

function node(id: string, rack: string): NodeRow {
  return {
    id, name: id, address: "127.0.0.1:1", datacenter: "dc1", role: "agent", status: "ready",
    attributes: { "os.name": "linux" }, resources: { cpuMhz: 4000, cores: 4, memoryBytes: 4096 * MIB, diskBytes: 0 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: { rack }, statusChangedAt: 0, createIndex: 1, modifyIndex: 1,
    health: "passing", healthReason: "", healthChangedAt: 0,
  } as NodeRow;
}

function spec(constraints: { attribute: string; operator?: string; value: string }[], count = 2): Job {
  return job({
    id: "web",
    groups: [{
      name: "g", count, constraints, update: { max_parallel: 1, min_healthy_time: "1s", healthy_deadline: "1m" },
      tasks: [{ name: "t", command: "/bin/a", resources: { cpu: 100, memory: 64 } }],
    }],
  });
}

function jobRow(s: Job, version: number): JobRow {
  return {
    namespace: "default", id: s.id, type: s.type, priority: s.priority, version, status: "running", stop: false, spec: s,
    stableVersion: null, submitIndex: 1, submittedAt: 0, createIndex: 1, modifyIndex: 1,
  } as JobRow;
}

function alloc(id: string, nodeId: string, index: number, s: Job): AllocRow {
  const g = s.groups[0]!;
  return {
    id, namespace: "default", jobId: s.id, jobVersion: 0, jobType: s.type, groupName: g.name, taskGroupIndex: index,
    groupHash: groupHash(s, g), groupSpec: g, nodeId, evalId: "e0", priority: 50,
    resources: { cpuMhz: 100, memoryMb: 64 }, ports: [],
    desiredStatus: "run", desiredDescription: "", clientStatus: "running", clientDescription: "", taskStates: {},
    health: "healthy", deploymentId: "d0", previousAlloc: "", reschedules: [], createdAt: 0, modifiedAt: 0, createIndex: 1, modifyIndex: 1,
  };
}

let ids = 0;
function input(s: Job, version: number, allocs: AllocRow[]): EvalInput {
  return {
    evalId: "ev-1", namespace: "default", jobId: "web", now: 100_000, job: jobRow(s, version),
    nodes: [node("n1", "r1"), node("n2", "r2")], drains: [], jobAllocs: allocs, otherLive: [], deployments: [],
    preemption: false, newId: () => `id-${++ids}`,
  };
}

describe("in-place updates re-check the node", () => {
  const v0 = spec([]);
  const allocs = () => [alloc("a0", "n1", 0, v0), alloc("a1", "n2", 1, v0)];

  test("inPlaceMisfit names the failing constraint, null when the node fits", () => {
    const s = spec([{ attribute: "${meta.rack}", value: "r1" }]);
    const view = (n: NodeRow) => ({ id: n.id, name: n.name, status: "ready" as const, attributes: n.attributes, meta: n.meta, resources: { cpuMhz: 4000, memoryMb: 4096 }, reserved: { cpuMhz: 0, memoryMb: 0 } });
    expect(inPlaceMisfit(s, s.groups[0]!, view(node("n1", "r1")))).toBeNull();
    expect(inPlaceMisfit(s, s.groups[0]!, view(node("n2", "r2")))).toBe("constraint ${meta.rack} = r1");
  });

  test("a constraint that excludes one node: its allocation is replaced on the other, the other is updated in place", () => {
    const v1 = spec([{ attribute: "${meta.rack}", value: "r1" }]);
    const out = evaluate(input(v1, 1, allocs()));
    expect(out.commit.stops.map((s) => s.allocId)).toEqual(["a1"]);
    expect(out.commit.stops[0]!.description).toContain("no longer satisfies");
    expect(out.commit.stops[0]!.description).toContain("${meta.rack} = r1");
    expect(out.commit.placements.map((p) => [p.nodeId, p.taskGroupIndex, p.previousAlloc])).toEqual([["n1", 1, "a1"]]);
    expect((out.commit as { inPlace?: string[] }).inPlace).toEqual(["a0"]);
  });

  test("a change every node still satisfies stays in place (nothing stopped or placed)", () => {
    const v1 = spec([{ attribute: "${attr.os.name}", value: "linux" }]);
    const out = evaluate(input(v1, 1, allocs()));
    expect(out.commit.stops).toEqual([]);
    expect(out.commit.placements).toEqual([]);
    expect((out.commit as { inPlace?: string[] }).inPlace?.sort()).toEqual(["a0", "a1"]);
  });

  test("an allocation already at the current version is not re-checked (node meta changes do not evict)", () => {
    const v1 = spec([{ attribute: "${meta.rack}", value: "r1" }]);
    const as = allocs().map((a) => ({ ...a, jobVersion: 1 }));
    const out = evaluate(input(v1, 1, as));
    expect(out.commit.stops).toEqual([]);
  });

  // (System jobs did this before too: the system scheduler stops what runs on an ineligible node; kept as a guard.)
  test("a system job: the allocation on the node now excluded stops and nothing replaces it there; the other stays in place", () => {
    const sys = (constraints: { attribute: string; value: string }[]) => ({ ...spec(constraints, 1), type: "system" as const });
    const s0 = sys([]);
    const as = [alloc("a0", "n1", 0, s0), alloc("a1", "n2", 0, s0)].map((a) => ({ ...a, jobType: "system", deploymentId: "" }));
    const s1 = sys([{ attribute: "${meta.rack}", value: "r1" }]);
    const out = evaluate(input(s1, 1, as));
    expect(out.commit.stops.map((x) => x.allocId)).toEqual(["a1"]);
    expect(out.commit.placements).toEqual([]);
    expect((out.commit as { inPlace?: string[] }).inPlace).toEqual(["a0"]);
  });

  test("job plan counts the misfit as a create/destroy update (with the reason) and the other as in place, as Nomad does", () => {
    const v1 = spec([{ attribute: "${meta.rack}", value: "r1" }]);
    const as = allocs();
    const notes = annotatePlan(v1, as, evaluate(input(v1, 1, as)));
    expect(notes.groups).toEqual({ g: { "create/destroy update": 1, "in-place update": 1 } });
    const moved = notes.allocations.find((x) => x.allocId === "a1")!;
    expect(moved.action).toBe("create/destroy update");
    expect(moved.reason).toContain("no longer satisfies");
  });
});
