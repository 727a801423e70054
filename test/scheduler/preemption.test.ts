import { describe, expect, test } from "bun:test";
import { schedule } from "../../core/scheduler/schedule.ts";
import { alloc, job, node } from "./helpers.ts";

// Nodes of 4000 MHz / 8192 MB; the job asks for 2000 MHz / 2048 MB at priority 70.
const hungry = () => job({ id: "hungry", priority: 70, cpu: 2000, mem: 2048 });

describe("preemption", () => {
  test("off by default: the plan is blocked", () => {
    const plan = schedule({ nodes: [node("a")], allocations: [alloc("a", { cpu: 4000, priority: 10 })] }, hungry(), "e1");
    expect(plan.placements).toEqual([]);
    expect(plan.stops).toEqual([]);
    expect(plan.blocked).toBe(true);
  });

  test("evicts a lower-priority allocation and lists it as a stop", () => {
    const victim = alloc("a", { cpu: 4000, priority: 10, jobId: "batchy" });
    const plan = schedule({ nodes: [node("a")], allocations: [victim] }, hungry(), "e1", { preemption: true });
    expect(plan.stops).toMatchObject([{ allocId: victim.id, jobId: "batchy", reason: "preempted" }]);
    expect(plan.stops[0]!.message).toMatch(/priority 10.*priority 70/);
    expect(plan.placements).toMatchObject([{ nodeId: "a", preempted: [victim.id] }]);
    expect(plan.blocked).toBe(false);
  });

  test("never evicts equal or higher priority", () => {
    const allocations = [alloc("a", { cpu: 4000, priority: 70 }), alloc("b", { cpu: 4000, priority: 90 })];
    const plan = schedule({ nodes: [node("a"), node("b")], allocations }, hungry(), "e1", { preemption: true });
    expect(plan.stops).toEqual([]);
    expect(plan.blocked).toBe(true);
  });

  test("respects a larger priority delta", () => {
    const allocations = [alloc("a", { cpu: 4000, priority: 65 })];
    const plan = schedule({ nodes: [node("a")], allocations }, hungry(), "e1", { preemption: true, preemptionPriorityDelta: 10 });
    expect(plan.stops).toEqual([]);
  });

  test("only evicts what is needed, lowest priority first", () => {
    const low = alloc("a", { cpu: 1000, priority: 10 });
    const mid = alloc("a", { cpu: 1000, priority: 40 });
    const high = alloc("a", { cpu: 2000, priority: 90 });
    const plan = schedule({ nodes: [node("a")], allocations: [low, mid, high] }, hungry(), "e1", { preemption: true });
    expect(plan.stops.map((s) => s.allocId).sort()).toEqual([low.id, mid.id].sort());
  });

  test("prefers the node whose victims have the lowest priority, then the fewest", () => {
    const nodes = [node("a"), node("b"), node("c")];
    const allocations = [
      alloc("a", { cpu: 4000, priority: 40 }), // one victim at 40
      alloc("b", { cpu: 2000, priority: 20 }), alloc("b", { cpu: 2000, priority: 20 }), // needs one at 20
      alloc("c", { cpu: 1000, priority: 20 }), alloc("c", { cpu: 1000, priority: 20 }), alloc("c", { cpu: 2000, priority: 60 }), // needs two at 20
    ];
    const plan = schedule({ nodes, allocations }, hungry(), "e1", { preemption: true });
    expect(plan.placements[0]!.nodeId).toBe("b");
    expect(plan.stops).toHaveLength(1);
  });

  test("does not evict the job's own allocations, even from an older lower-priority version", () => {
    const own = alloc("a", { cpu: 4000, priority: 10, jobId: "hungry", taskGroupIndex: 0 });
    const plan = schedule({ nodes: [node("a")], allocations: [own] }, job({ id: "hungry", priority: 70, count: 2, cpu: 2000 }), "e1", { preemption: true });
    expect(plan.stops).toEqual([]);
    expect(plan.failedGroups).toMatchObject([{ group: "g", missing: 1 }]);
  });

  test("frees a static port held by a lower-priority allocation", () => {
    const holder = alloc("a", { cpu: 100, mem: 64, priority: 10, ports: [8080] });
    const plan = schedule(
      { nodes: [node("a")], allocations: [holder] },
      job({ id: "hungry", priority: 70, ports: { http: { static: 8080 } } }),
      "e1",
      { preemption: true },
    );
    expect(plan.stops.map((s) => s.allocId)).toEqual([holder.id]);
    expect(plan.placements[0]!.ports[0]!.value).toBe(8080);
  });

  test("room left over by an eviction is used by the next placement without evicting again", () => {
    const victim = alloc("a", { cpu: 4000, mem: 4096, priority: 10 });
    const other = alloc("b", { cpu: 4000, mem: 4096, priority: 10 });
    const plan = schedule({ nodes: [node("a"), node("b")], allocations: [victim, other] }, job({ id: "hungry", priority: 70, count: 2, cpu: 2000, mem: 2048 }), "e1", {
      preemption: true,
    });
    expect(plan.placements).toHaveLength(2);
    expect(plan.stops).toHaveLength(1);
    expect(new Set(plan.placements.map((p) => p.nodeId)).size).toBe(1);
  });
});
