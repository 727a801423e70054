// The scheduling loop's LiveCluster (core/cluster/scheduling/live-cluster.ts)
// is kept in step with the allocations table from what changed, never read
// again in full. Property: after any sequence of placements, stops, status
// and in-place updates, node losses and deletions, fed to it as the loop
// feeds it (the rows changed since the last look, and the live rows of each
// node that lost rows to a deletion), it equals a fresh read — its rows, its
// per-namespace usage, its scheduler index — and a plan made on its index
// (withJob) equals the plan made on a fresh snapshot, leaving the index as
// it was. A failure names its seed: LIVE_SEED=<seed> to rerun one.
import { describe, expect, test } from "bun:test";
import { LiveCluster } from "../../core/cluster/scheduling/live-cluster.ts";
import { allocView, fairnessInput } from "../../core/cluster/scheduling/views.ts";
import { indexSnapshot, type ClusterIndex } from "../../core/scheduler/cluster-index.ts";
import { seededRng } from "../../core/scheduler/rng.ts";
import { schedule } from "../../core/scheduler/schedule.ts";
import type { AllocationView, NodeView, Rng } from "../../core/scheduler/types.ts";
import type { LiveAllocLite } from "../../core/state/domains/jobs-read.ts";
import { job, node } from "./helpers.ts";

const SEEDS = process.env.LIVE_SEED ? [process.env.LIVE_SEED] : Array.from({ length: 16 }, (_, i) => `live-${i}`);
const STATUSES = ["pending", "running", "complete", "failed", "lost"] as const;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const isLive = (r: LiveAllocLite) => r.desiredStatus === "run" && (r.clientStatus === "pending" || r.clientStatus === "running");

/** The allocations table, and what changed since the view last looked (as allocsChangedSince reports it). */
class Table {
  rows = new Map<string, LiveAllocLite>();
  changed = new Set<string>();
  deletedOnNodes = new Set<string>();
  private seq = 0;
  constructor(private rng: Rng, private nodes: NodeView[]) {}

  write(row: LiveAllocLite): void {
    this.rows.set(row.id, row);
    this.changed.add(row.id);
  }

  step(): void {
    const rng = this.rng;
    const all = [...this.rows.values()];
    const op = rng();
    if (op < 0.4 || all.length === 0) {
      const jobId = `j${Math.floor(rng() * 5)}`;
      this.write({
        id: `a${++this.seq}`, jobId, namespace: rng() < 0.7 ? "default" : "ops", groupName: rng() < 0.8 ? "g" : "h",
        nodeId: pick(rng, this.nodes).id, priority: 10 + Math.floor(rng() * 80),
        resources: { cpuMhz: 100 * (1 + Math.floor(rng() * 10)), memoryMb: 128 * (1 + Math.floor(rng() * 8)) },
        ports: (rng() < 0.3 ? [{ task: "t", label: "http", value: 20000 + Math.floor(rng() * 8), static: false }] : []) as never,
        desiredStatus: "run", clientStatus: rng() < 0.5 ? "pending" : "running", taskGroupIndex: Math.floor(rng() * 6),
      });
    } else if (op < 0.55) {
      const a = pick(rng, all); // stopped by a plan
      this.write({ ...a, desiredStatus: "stop" });
    } else if (op < 0.75) {
      const a = pick(rng, all); // a status report
      this.write({ ...a, clientStatus: pick(rng, STATUSES) });
    } else if (op < 0.82) {
      const a = pick(rng, all); // an in-place update
      this.write({ ...a, priority: 10 + Math.floor(rng() * 80) });
    } else if (op < 0.9) {
      const n = pick(rng, this.nodes).id; // node lost: its live allocations are marked lost and stopped
      for (const a of all) if (a.nodeId === n && isLive(a)) this.write({ ...a, desiredStatus: "stop", clientStatus: "lost" });
    } else {
      // Deletions (garbage collection, a purge, node GC): live rows too, sometimes right after a change.
      for (const a of all) {
        if (rng() < 0.15) {
          this.rows.delete(a.id);
          this.deletedOnNodes.add(a.nodeId);
        }
      }
    }
  }

  /** What the loop does between evaluations: rows changed since (as they are now), then deleted-on nodes afresh. */
  sync(view: LiveCluster): void {
    for (const id of this.changed) {
      const row = this.rows.get(id);
      if (row) view.apply(row); // a deleted row is not returned by the read; its node is in deletedOnNodes
    }
    for (const n of this.deletedOnNodes) view.replaceNode(n, [...this.rows.values()].filter((r) => r.nodeId === n && isLive(r)));
    this.changed.clear();
    this.deletedOnNodes.clear();
  }

  live(): LiveAllocLite[] {
    return [...this.rows.values()].filter(isLive);
  }
}

/** A ClusterIndex in comparable form: order of insertion is not part of its meaning. */
function shape(index: ClusterIndex) {
  return {
    nodes: index.nodes.map((n) => ({
      pos: n.pos, id: n.view.id, cpu: n.usedCpuMhz, mem: n.usedMemoryMb,
      ports: [...n.ports].sort((a, b) => a[0] - b[0]), allocs: n.allocs.map((a) => a.id).sort(),
    })),
    allocs: [...index.allocs.values()].sort(byId),
    byJob: [...index.byJob].map(([k, list]) => [k, list.map((a) => a.id).sort()] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  };
}

function cluster(rng: Rng): NodeView[] {
  return Array.from({ length: 4 + Math.floor(rng() * 8) }, (_, i) =>
    node(`n${i}`, { cpu: 2000 + 1000 * Math.floor(rng() * 4), mem: 2048 + 1024 * Math.floor(rng() * 6), status: rng() < 0.15 ? "down" : rng() < 0.1 ? "draining" : "ready" }));
}

describe("LiveCluster kept in step with applied changes equals a fresh read", () => {
  for (const seed of SEEDS) {
    test(seed, () => {
      const rng = seededRng(seed);
      const nodes = cluster(rng);
      const table = new Table(rng, nodes);
      for (let i = 0; i < 20; i++) table.step();
      const view = new LiveCluster(nodes, table.live()); // the loop's first, full read
      table.changed.clear();
      table.deletedOnNodes.clear();
      for (let round = 0; round < 60; round++) {
        // Several entries land between two evaluations.
        const steps = 1 + Math.floor(rng() * 6);
        for (let i = 0; i < steps; i++) table.step();
        table.sync(view);

        const live = table.live();
        expect(view.all().sort(byId)).toEqual(live.sort(byId));
        expect(view.usage()).toEqual(fairnessInput([], live).usage);
        const fresh = indexSnapshot({ nodes, allocations: live.map((a) => allocView(a)) });
        expect(shape(view.index)).toEqual(shape(fresh));

        // An evaluation of one job: its allocations (all of them, some marked failed by the caller) overlay the index.
        const jobId = `j${Math.floor(rng() * 5)}`;
        const namespace = rng() < 0.7 ? "default" : "ops";
        const mine: AllocationView[] = [...table.rows.values()]
          .filter((a) => a.jobId === jobId && a.namespace === namespace)
          .map((a) => allocView(a, rng() < 0.1 ? "failed" : undefined));
        expect(view.others(namespace, jobId).sort(byId)).toEqual(live.filter((a) => a.jobId !== jobId || a.namespace !== namespace).sort(byId));
        const spec = job({ id: jobId, namespace, count: Math.floor(rng() * 8), cpu: 200 + 100 * Math.floor(rng() * 10), mem: 256, priority: 10 + Math.floor(rng() * 80), ports: rng() < 0.3 ? { http: {} } : {} });
        const opts = { preemption: rng() < 0.5, portRange: { min: 20000, max: 20015 } };
        const snapshot = { nodes, allocations: [...view.others(namespace, jobId).map((a) => allocView(a)), ...mine] };
        const expected = schedule(snapshot, spec, `eval-${seed}-${round}`, opts);
        const got = view.withJob(namespace, jobId, mine, (index) => schedule(index, spec, `eval-${seed}-${round}`, opts));
        expect(got).toEqual(expected);
        expect(shape(view.index)).toEqual(shape(fresh)); // put back as it was
      }
    });
  }
});
