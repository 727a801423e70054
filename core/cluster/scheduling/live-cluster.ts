// Every live allocation of the cluster, kept current from what changed
// rather than read again per evaluation (pure: rows in, views out).
//
// An evaluation must see every other job's live allocations (they hold
// resources and ports), and the fairness pick of a busy queue every
// namespace's usage. Reading them per evaluation made each one cost
// O(allocations already placed): a burst of jobs was quadratic. The loop
// keeps one LiveCluster instead: built once from a full read, then fed the
// allocation rows changed since it last looked (each applied row replaces its
// previous version; a row that no longer holds resources leaves) and, for a
// node that lost rows to deletion, that node's live rows afresh. What it holds
// equals a fresh read (test/scheduler/live-cluster.test.ts checks that over
// random sequences of placements, stops, updates, node losses and deletions).
//
// It also keeps the scheduler's ClusterIndex over these allocations and the
// node views it was built with, so an evaluation hands the scheduler that
// index (overlaid with its own job's allocations, withJob) instead of
// indexing a snapshot of the whole cluster each time. Node positions are the
// node list's order: the caller builds a new LiveCluster when the node list
// (or a drain) changes, so plans are exactly those of a fresh snapshot.
import { addAllocation, indexSnapshot, jobKey, removeAllocation, type AllocationView, type ClusterIndex, type NodeView, type Resources } from "../../scheduler/index.ts";
import type { LiveAllocLite } from "../../state/domains/jobs-read.ts";
import { allocView } from "./views.ts";
import type { EvalInput } from "./evaluate.ts";

/** Live allocations of every other job, as a list (from the loop's LiveCluster when it passed one). */
export function otherLiveOf(input: Pick<EvalInput, "otherLive" | "cluster" | "namespace" | "jobId">): readonly LiveAllocLite[] {
  return input.otherLive ?? input.cluster?.others(input.namespace, input.jobId) ?? [];
}

/** The same test as the live-allocation reads' SQL (desired run, client pending or running). */
export function isLiveRow(a: Pick<LiveAllocLite, "desiredStatus" | "clientStatus">): boolean {
  return a.desiredStatus === "run" && (a.clientStatus === "pending" || a.clientStatus === "running");
}

export class LiveCluster {
  private rows = new Map<string, LiveAllocLite>();
  /** node id → ids of its live allocations (a node's rows are replaced after deletions). */
  private byNode = new Map<string, Set<string>>();
  /** namespace → what its live allocations hold, and how many there are (a namespace with none is left out, as a fresh read leaves it). */
  private nsUsage = new Map<string, Resources & { count: number }>();
  /** The scheduler's index over every live allocation; never left changed by an evaluation (withJob restores it). */
  readonly index: ClusterIndex;

  constructor(nodes: readonly NodeView[], live: readonly LiveAllocLite[]) {
    this.index = indexSnapshot({ nodes, allocations: [] });
    for (const row of live) this.apply(row);
  }

  /** One allocation row as it is now: added or replaced while it holds resources, forgotten once it does not. */
  apply(row: LiveAllocLite): void {
    this.forget(row.id);
    if (!isLiveRow(row)) return;
    this.rows.set(row.id, row);
    let ids = this.byNode.get(row.nodeId);
    if (!ids) this.byNode.set(row.nodeId, (ids = new Set()));
    ids.add(row.id);
    this.charge(row, 1);
    addAllocation(this.index, allocView(row));
  }

  /** A node's live rows as they are now (some of its rows were deleted: which ones, the deletion does not say). */
  replaceNode(nodeId: string, live: readonly LiveAllocLite[]): void {
    for (const id of [...(this.byNode.get(nodeId) ?? [])]) this.forget(id);
    for (const row of live) this.apply(row);
  }

  /** Every live allocation, in no particular order. */
  all(): LiveAllocLite[] {
    return [...this.rows.values()];
  }

  /** Live allocations of every job but this one (what an evaluation of it calls otherLive). */
  others(namespace: string, jobId: string): LiveAllocLite[] {
    const out: LiveAllocLite[] = [];
    for (const r of this.rows.values()) if (r.jobId !== jobId || r.namespace !== namespace) out.push(r);
    return out;
  }

  /** What each namespace's live allocations hold (the fairness pick's input). */
  usage(): Record<string, Resources> {
    const out: Record<string, Resources> = {};
    for (const [ns, u] of this.nsUsage) out[ns] = { cpuMhz: u.cpuMhz, memoryMb: u.memoryMb };
    return out;
  }

  /**
   * Runs `fn` with the index showing `views` as the allocations of this job
   * instead of its live rows (an evaluation passes every allocation of the
   * job, some marked failed), then puts the index back as it was. The
   * scheduler reads the index and never changes it, so `fn` sees exactly the
   * index of a snapshot of the other jobs' live allocations plus `views`.
   */
  withJob<T>(namespace: string, jobId: string, views: readonly AllocationView[], fn: (index: ClusterIndex) => T): T {
    const own = [...(this.index.byJob.get(jobKey(namespace, jobId)) ?? [])];
    for (const a of own) removeAllocation(this.index, a.id);
    const added: string[] = [];
    try {
      for (const v of views) {
        // An id already shown (another job's row with the same id cannot exist; a duplicate view can) is replaced.
        addAllocation(this.index, v);
        added.push(v.id);
      }
      return fn(this.index);
    } finally {
      for (const id of added) removeAllocation(this.index, id);
      for (const a of own) addAllocation(this.index, a);
    }
  }

  private forget(id: string): void {
    const old = this.rows.get(id);
    if (!old) return;
    this.rows.delete(id);
    const ids = this.byNode.get(old.nodeId);
    ids?.delete(id);
    if (ids && ids.size === 0) this.byNode.delete(old.nodeId);
    this.charge(old, -1);
    removeAllocation(this.index, id);
  }

  private charge(row: LiveAllocLite, sign: 1 | -1): void {
    let u = this.nsUsage.get(row.namespace);
    if (!u) this.nsUsage.set(row.namespace, (u = { cpuMhz: 0, memoryMb: 0, count: 0 }));
    u.cpuMhz += sign * row.resources.cpuMhz;
    u.memoryMb += sign * row.resources.memoryMb;
    u.count += sign;
    if (u.count === 0) this.nsUsage.delete(row.namespace);
  }
}
