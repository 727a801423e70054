// Seeded random clusters and job streams; after every committed plan, check
// the invariants no plan may break. A failure names its seed; rerun one with
// SCHED_SEED=<seed> npx bun test test/scheduler/invariants.test.ts
import { describe, expect, test } from "bun:test";
import { compileConstraint } from "../../core/scheduler/ask.ts";
import { addAllocation, indexSnapshot, removeAllocation, type ClusterIndex } from "../../core/scheduler/cluster-index.ts";
import type { Job } from "../../core/scheduler/jobspec/types.ts";
import { seededRng } from "../../core/scheduler/rng.ts";
import { schedule } from "../../core/scheduler/schedule.ts";
import type { NodeView, Plan, Rng } from "../../core/scheduler/types.ts";
import { job, node } from "./helpers.ts";

const SEEDS = process.env.SCHED_SEED ? [process.env.SCHED_SEED] : Array.from({ length: 12 }, (_, i) => `seed-${i}`);
const PORTS = { min: 20000, max: 20063 }; // small, so port exhaustion actually happens

function cluster(rng: Rng): NodeView[] {
  return Array.from({ length: 12 + Math.floor(rng() * 40) }, (_, i) =>
    node(`n${i}`, {
      cpu: 1000 * (1 + Math.floor(rng() * 8)),
      mem: 1024 * (1 + Math.floor(rng() * 16)),
      reserved: { cpuMhz: 100, memoryMb: 128 },
      status: rng() < 0.1 ? "down" : rng() < 0.05 ? "draining" : "ready",
      attributes: { "os.name": "linux", "cpu.arch": rng() < 0.7 ? "amd64" : "arm64" },
      meta: { rack: `r${i % 4}` },
    }),
  );
}

function randomJob(rng: Rng, i: number): Job {
  return job({
    id: `j${i % 15}`, // ids repeat: later jobs update earlier ones (count changes, stops)
    priority: 10 + Math.floor(rng() * 80),
    count: Math.floor(rng() * 12),
    cpu: 100 * (1 + Math.floor(rng() * 20)),
    mem: 128 * (1 + Math.floor(rng() * 24)),
    constraints: [
      ...(rng() < 0.3 ? [{ attribute: "${attr.cpu.arch}", value: "amd64" }] : []),
      ...(rng() < 0.2 ? [{ operator: "distinct_hosts" }] : []),
    ],
    spread: rng() < 0.2 ? [{ attribute: "${meta.rack}" }] : [],
    ports: rng() < 0.3 ? { http: {}, ...(rng() < 0.3 ? { admin: { static: 9000 } } : {}) } : {},
  });
}

function commit(index: ClusterIndex, j: Job, plan: Plan): void {
  for (const s of plan.stops) removeAllocation(index, s.allocId);
  for (const p of plan.placements) {
    addAllocation(index, {
      id: `${plan.evalId}/${p.group}[${p.taskGroupIndex}]`,
      jobId: j.id, namespace: j.namespace, group: p.group, nodeId: p.nodeId, priority: j.priority,
      resources: p.resources, ports: p.ports.map((x) => x.value), status: "running", taskGroupIndex: p.taskGroupIndex,
    });
  }
}

function checkInvariants(index: ClusterIndex, j: Job, plan: Plan): void {
  for (const n of index.nodes) {
    expect(n.usedCpuMhz).toBeLessThanOrEqual(n.view.resources.cpuMhz - n.view.reserved.cpuMhz);
    expect(n.usedMemoryMb).toBeLessThanOrEqual(n.view.resources.memoryMb - n.view.reserved.memoryMb);
    for (const holders of n.ports.values()) expect(holders).toBe(1);
  }
  const g = j.groups[0]!;
  const live = (index.byJob.get(`${j.namespace}\u0000${j.id}`) ?? []).filter((a) => a.group === g.name);
  expect(live.length + plan.failedGroups.reduce((s, f) => s + f.missing, 0)).toBe(g.count);
  expect(new Set(live.map((a) => a.taskGroupIndex)).size).toBe(live.length);
  const constraints = g.constraints.filter((c) => c.operator !== "distinct_hosts").map(compileConstraint);
  for (const p of plan.placements) {
    const n = index.byId.get(p.nodeId)!.view;
    expect(n.status).toBe("ready");
    for (const c of constraints) expect(c.test(n)).toBe(true);
    for (const port of p.ports.filter((x) => !x.static)) expect(port.value >= PORTS.min && port.value <= PORTS.max).toBe(true);
  }
  if (g.constraints.some((c) => c.operator === "distinct_hosts")) {
    // New placements never share a node with the group (older allocations
    // from before the constraint was added are not migrated).
    for (const p of plan.placements) expect(live.filter((a) => a.nodeId === p.nodeId)).toHaveLength(1);
  }
}

describe("invariants over random job streams", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}`, () => {
      const rng = seededRng(seed);
      const index = indexSnapshot({ nodes: cluster(rng), allocations: [] });
      for (let i = 0; i < 60; i++) {
        const j = randomJob(rng, i);
        const opts = { preemption: rng() < 0.5, portRange: PORTS };
        const plan = schedule(index, j, `${seed}/e${i}`, opts);
        expect(schedule(index, j, `${seed}/e${i}`, opts)).toEqual(plan); // replayable
        commit(index, j, plan);
        checkInvariants(index, j, plan);
      }
    });
  }
});
