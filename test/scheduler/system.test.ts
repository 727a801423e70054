// system and sysbatch jobs in the pure scheduler: one allocation per eligible node.
import { describe, expect, test } from "bun:test";
import { schedule } from "../../core/scheduler/schedule.ts";
import { validateJob } from "../../core/scheduler/jobspec.ts";
import { alloc, job, node } from "./helpers.ts";

const linuxOnly = [{ attribute: "${attr.os.name}", value: "linux" }];

describe("system jobs", () => {
  test("one allocation on every ready node that passes the constraints; none on down, draining or non-matching nodes", () => {
    const nodes = [
      node("n1"), node("n2"), node("n3", { status: "down" }), node("n4", { status: "draining" }),
      node("n5", { attributes: { "os.name": "windows" } }),
    ];
    const plan = schedule({ nodes, allocations: [] }, job({ id: "agent", type: "system", cpu: 100, mem: 64, constraints: linuxOnly }), "e1");
    expect(plan.placements.map((p) => p.nodeId).sort()).toEqual(["n1", "n2"]);
    expect(new Set(plan.placements.map((p) => p.taskGroupIndex)).size).toBe(2);
    expect(plan.blocked).toBe(false);
  });

  test("a node that joins gets one; nodes that have one keep it", () => {
    const j = job({ id: "agent", type: "system", cpu: 100, mem: 64 });
    const kept = [alloc("n1", { jobId: "agent", taskGroupIndex: 0, cpu: 100, mem: 64 }), alloc("n2", { jobId: "agent", taskGroupIndex: 1, cpu: 100, mem: 64 })];
    const plan = schedule({ nodes: [node("n1"), node("n2"), node("n3")], allocations: kept }, j, "e2");
    expect(plan.placements.map((p) => [p.nodeId, p.taskGroupIndex])).toEqual([["n3", 2]]);
    expect(plan.stops).toEqual([]);
  });

  test("allocations on a node that went down, drains or stopped matching are stopped and not moved", () => {
    const j = job({ id: "agent", type: "system", cpu: 100, mem: 64, constraints: linuxOnly });
    const mine = (n: string, i: number) => alloc(n, { id: `x-${n}`, jobId: "agent", taskGroupIndex: i, cpu: 100, mem: 64 });
    const nodes = [node("n1", { status: "down" }), node("n2", { status: "draining" }), node("n3", { attributes: { "os.name": "plan9" } }), node("n4")];
    const plan = schedule({ nodes, allocations: [mine("n1", 0), mine("n2", 1), mine("n3", 2), mine("n4", 3)] }, j, "e3");
    expect(plan.placements).toEqual([]);
    expect(Object.fromEntries(plan.stops.map((s) => [s.nodeId, s.reason]))).toEqual({ n1: "node-down", n2: "node-draining", n3: "node-ineligible" });
  });

  test("a full node: blocked with the reason, or room made by preempting strictly lower priority work", () => {
    const j = job({ id: "agent", type: "system", priority: 70, cpu: 1000, mem: 1024 });
    const nodes = [node("n1", { cpu: 2000, mem: 2048 }), node("n2", { cpu: 2000, mem: 2048 })];
    const filler = [alloc("n1", { id: "low", priority: 30, cpu: 2000, mem: 2048 }), alloc("n2", { id: "high", priority: 90, cpu: 2000, mem: 2048 })];
    const without = schedule({ nodes, allocations: filler }, j, "e4");
    expect(without.placements).toEqual([]);
    expect(without.failedGroups[0]?.missing).toBe(2);
    expect(without.failedGroups[0]?.metrics.reasons["cpu exhausted"]).toBe(2);

    const withPreemption = schedule({ nodes, allocations: filler }, j, "e4", { preemption: true });
    expect(withPreemption.placements.map((p) => [p.nodeId, p.preempted])).toEqual([["n1", ["low"]]]);
    expect(withPreemption.stops.map((s) => [s.allocId, s.reason])).toEqual([["low", "preempted"]]);
    expect(withPreemption.failedGroups[0]?.missing).toBe(1); // n2's occupant has a higher priority
  });

  test("sysbatch: a complete allocation keeps its node; a failed one does not", () => {
    const j = job({ id: "fsck", type: "sysbatch", cpu: 100, mem: 64 });
    const done = alloc("n1", { jobId: "fsck", status: "complete", taskGroupIndex: 0 });
    const failed = alloc("n2", { jobId: "fsck", status: "failed", taskGroupIndex: 1 });
    const plan = schedule({ nodes: [node("n1"), node("n2")], allocations: [done, failed] }, j, "e5");
    expect(plan.placements.map((p) => p.nodeId)).toEqual(["n2"]);
  });

  test("the same input gives the same plan", () => {
    const j = job({ id: "agent", type: "system", cpu: 100, mem: 64, ports: { http: {} } });
    const nodes = Array.from({ length: 50 }, (_, i) => node(`n${i}`));
    expect(schedule({ nodes, allocations: [] }, j, "same")).toEqual(schedule({ nodes, allocations: [] }, j, "same"));
  });

  test("the spec refuses a count above 1", () => {
    const r = validateJob({ id: "a", type: "system", groups: [{ name: "g", count: 3, tasks: [{ name: "t", command: "x" }] }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors).toEqual([{ path: "groups[0].count", message: "a system job runs one allocation per node; count must be 0 or 1" }]);
  });
});
