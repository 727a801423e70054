import { describe, expect, test } from "bun:test";
import { addAllocation, indexSnapshot } from "../../core/scheduler/cluster-index.ts";
import { binpack } from "../../core/scheduler/rank/binpack.ts";
import { schedule } from "../../core/scheduler/schedule.ts";
import type { NodeView } from "../../core/scheduler/types.ts";
import { alloc, evalFixture, job, node } from "./helpers.ts";

describe("bin-packing", () => {
  test("the ranker scores a fuller node higher", () => {
    const f = evalFixture([node("empty"), node("half")], [alloc("half", { cpu: 2000, mem: 4096 })], job({ cpu: 500, mem: 512 }));
    const empty = binpack(f.node("empty"), f.ask, f.ctx);
    const half = binpack(f.node("half"), f.ask, f.ctx);
    expect(half).toBeGreaterThan(empty);
    expect(empty).toBeGreaterThanOrEqual(0);
    expect(half).toBeLessThanOrEqual(1);
  });

  test("prefers the fullest node that still fits", () => {
    const nodes = [node("empty"), node("half"), node("full")];
    const allocations = [alloc("half", { cpu: 2000, mem: 4096 }), alloc("full", { cpu: 3800, mem: 8000 })];
    const plan = schedule({ nodes, allocations }, job({ cpu: 1000, mem: 1024 }), "e1");
    expect(plan.placements).toHaveLength(1);
    expect(plan.placements[0]).toMatchObject({ nodeId: "half", taskGroupIndex: 0, resources: { cpuMhz: 1000, memoryMb: 1024 } });
  });

  test("separate jobs fill one node before opening the next", () => {
    const index = indexSnapshot({ nodes: [node("a"), node("b"), node("c")], allocations: [] });
    const used: string[] = [];
    for (const id of ["j1", "j2", "j3", "j4"]) {
      const [p] = schedule(index, job({ id, cpu: 1000, mem: 2048 }), `eval-${id}`).placements;
      addAllocation(index, alloc(p!.nodeId, { jobId: id, cpu: 1000, mem: 2048 }));
      used.push(p!.nodeId);
    }
    expect(new Set(used).size).toBe(1);
  });

  test("job anti-affinity spreads a small group's copies", () => {
    const plan = schedule({ nodes: [node("a"), node("b"), node("c")], allocations: [] }, job({ count: 3, cpu: 1000, mem: 1024 }), "e1");
    expect(new Set(plan.placements.map((p) => p.nodeId)).size).toBe(3);
  });

  test('algorithm "spread" inverts it', () => {
    const nodes = [node("empty"), node("half")];
    const plan = schedule({ nodes, allocations: [alloc("half", { cpu: 2000 })] }, job(), "e1", { algorithm: "spread" });
    expect(plan.placements[0]!.nodeId).toBe("empty");
  });
});

describe("spread", () => {
  const racks = (n: number): NodeView[] => Array.from({ length: n }, (_, i) => node(`n${i}`, { meta: { rack: `r${i % 3}` } }));
  const countBy = (nodes: NodeView[], ids: string[]) => {
    const rackOf = new Map(nodes.map((n) => [n.id, n.meta.rack!]));
    const out: Record<string, number> = {};
    for (const id of ids) out[rackOf.get(id)!] = (out[rackOf.get(id)!] ?? 0) + 1;
    return out;
  };

  test("evens allocations across attribute values", () => {
    const nodes = racks(9);
    const plan = schedule({ nodes, allocations: [] }, job({ count: 9, cpu: 100, mem: 64, spread: [{ attribute: "${meta.rack}" }] }), "e1");
    expect(countBy(nodes, plan.placements.map((p) => p.nodeId))).toEqual({ r0: 3, r1: 3, r2: 3 });
  });

  test("takes existing allocations into account", () => {
    const nodes = racks(6);
    const existing = [alloc("n0", { jobId: "web", taskGroupIndex: 0 }), alloc("n3", { jobId: "web", taskGroupIndex: 1 })]; // both on r0
    const plan = schedule({ nodes, allocations: existing }, job({ count: 4, spread: [{ attribute: "${meta.rack}" }] }), "e1");
    expect(plan.placements.map((p) => p.taskGroupIndex)).toEqual([2, 3]);
    expect(countBy(nodes, plan.placements.map((p) => p.nodeId))).toEqual({ r1: 1, r2: 1 });
  });

  test("follows percent targets", () => {
    const nodes = racks(9);
    const spread = [{ attribute: "${meta.rack}", targets: [{ value: "r0", percent: 50 }, { value: "r1", percent: 50 }] }];
    const plan = schedule({ nodes, allocations: [] }, job({ count: 10, cpu: 100, mem: 64, spread }), "e1");
    expect(countBy(nodes, plan.placements.map((p) => p.nodeId))).toEqual({ r0: 5, r1: 5 });
  });
});

describe("reconciliation", () => {
  test("lowering the count stops the highest indexes", () => {
    const existing = [0, 1, 2, 3].map((i) => alloc("a", { jobId: "web", taskGroupIndex: i, cpu: 100, mem: 64 }));
    const plan = schedule({ nodes: [node("a")], allocations: existing }, job({ count: 2 }), "e1");
    expect(plan.placements).toEqual([]);
    expect(plan.stops.map((s) => [s.allocId, s.reason])).toEqual([
      [existing[3]!.id, "count-lowered"],
      [existing[2]!.id, "count-lowered"],
    ]);
  });

  test("allocations on a down node are replaced under the same index", () => {
    const nodes = [node("a", { status: "down" }), node("b")];
    const lost = alloc("a", { jobId: "web", taskGroupIndex: 1 });
    const kept = alloc("b", { jobId: "web", taskGroupIndex: 0 });
    const plan = schedule({ nodes, allocations: [lost, kept] }, job({ count: 2 }), "e1");
    expect(plan.stops).toMatchObject([{ allocId: lost.id, reason: "node-down" }]);
    expect(plan.placements).toMatchObject([{ taskGroupIndex: 1, nodeId: "b" }]);
  });

  test("a completed batch allocation is not re-run; a failed one is", () => {
    const done = alloc("a", { jobId: "web", taskGroupIndex: 0, status: "complete" });
    const failed = alloc("a", { jobId: "web", taskGroupIndex: 1, status: "failed" });
    const plan = schedule({ nodes: [node("a")], allocations: [done, failed] }, job({ type: "batch", count: 2 }), "e1");
    expect(plan.placements.map((p) => p.taskGroupIndex)).toEqual([1]);
  });

  test("freed resources are reused within the same plan", () => {
    const old = alloc("a", { jobId: "web", group: "gone", cpu: 4000, mem: 8192 });
    const plan = schedule({ nodes: [node("a")], allocations: [old] }, job({ cpu: 4000, mem: 8192 }), "e1");
    expect(plan.stops).toMatchObject([{ allocId: old.id, reason: "group-removed" }]);
    expect(plan.placements).toMatchObject([{ nodeId: "a" }]);
  });
});

describe("failures explain themselves", () => {
  test("metrics count each node under the check that rejected it", () => {
    const nodes = [
      node("small", { cpu: 500 }),
      node("arm", { attributes: { "os.name": "linux", "cpu.arch": "arm64" } }),
      node("gone", { status: "down" }),
    ];
    const plan = schedule({ nodes, allocations: [] }, job({ count: 3, constraints: [{ attribute: "${attr.cpu.arch}", value: "amd64" }] }), "e1");
    expect(plan.blocked).toBe(true);
    const [failed] = plan.failedGroups;
    expect(failed).toMatchObject({ group: "g", missing: 3, resources: { cpuMhz: 1000, memoryMb: 1024 } });
    expect(failed!.metrics).toEqual({
      nodesEvaluated: 3,
      nodesFiltered: 2,
      nodesExhausted: 1,
      byCheck: { "node-status": 1, constraints: 1, resources: 1 },
      reasons: { "node down": 1, "constraint ${attr.cpu.arch} = amd64": 1, "cpu exhausted": 1 },
      coalescedFailures: 2,
    });
  });
});

describe("determinism", () => {
  const cluster = () => {
    const nodes = Array.from({ length: 200 }, (_, i) =>
      node(`n${i}`, { cpu: 2000 + 1000 * (i % 5), mem: 4096 * (1 + (i % 3)), meta: { rack: `r${i % 7}` } }),
    );
    return { nodes, allocations: nodes.filter((_, i) => i % 4 === 0).map((n) => alloc(n.id, { cpu: 500 })) };
  };
  const j = () => job({ count: 40, cpu: 700, mem: 900, ports: { http: {} }, spread: [] });

  test("the same evaluation id gives the same plan", () => {
    const a = schedule(cluster(), j(), "eval-42");
    const b = schedule(cluster(), j(), "eval-42");
    expect(a.placements).toHaveLength(40);
    expect(b).toEqual(a);
  });

  test("another evaluation id samples differently", () => {
    const a = schedule(cluster(), j(), "eval-42");
    const b = schedule(cluster(), j(), "eval-43");
    expect(b.placements.map((p) => p.nodeId)).not.toEqual(a.placements.map((p) => p.nodeId));
  });

  test("a ClusterIndex gives the same plan as the snapshot and is not mutated", () => {
    const snap = cluster();
    const index = indexSnapshot(snap);
    const before = index.nodes.map((n) => [n.usedCpuMhz, n.usedMemoryMb, n.ports.size]);
    expect(schedule(index, j(), "eval-7")).toEqual(schedule(snap, j(), "eval-7"));
    expect(index.nodes.map((n) => [n.usedCpuMhz, n.usedMemoryMb, n.ports.size])).toEqual(before);
  });

  test("committing a plan and re-evaluating places nothing new", () => {
    const index = indexSnapshot(cluster());
    const plan = schedule(index, j(), "e1");
    for (const p of plan.placements) {
      addAllocation(index, alloc(p.nodeId, { jobId: "web", taskGroupIndex: p.taskGroupIndex, cpu: 700, mem: 900, ports: p.ports.map((x) => x.value) }));
    }
    const again = schedule(index, j(), "e2");
    expect(again.placements).toEqual([]);
    expect(again.stops).toEqual([]);
    expect(again.blocked).toBe(false);
  });
});

describe("sampling", () => {
  test("a large cluster scores a bounded sample, yet places everything", () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => node(`n${i}`));
    const plan = schedule({ nodes, allocations: [] }, job({ count: 50, cpu: 100, mem: 100 }), "e1");
    expect(plan.placements).toHaveLength(50);
    expect(plan.placements.every((p) => p.score >= 0 && p.score <= 1)).toBe(true);
  });
});
