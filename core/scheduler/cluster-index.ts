// An index over a snapshot: per-node usage and per-job allocations, so an
// evaluation costs O(what it touches) rather than O(every allocation).
//
// schedule() accepts a plain Snapshot (and indexes it, O(nodes + allocs)) or
// a ClusterIndex. A caller that schedules often (the leader, the bench) keeps
// one ClusterIndex current with addAllocation / removeAllocation / upsertNode
// as plans are committed. schedule() itself never mutates the index it is given.

import type { AllocationView, NodeView } from "./types.ts";

export interface SchedNode {
  /** Position in ClusterIndex.nodes; stable for the index's lifetime. */
  readonly pos: number;
  view: NodeView;
  /** Sum over live allocations on this node. */
  usedCpuMhz: number;
  usedMemoryMb: number;
  /** Host port → number of live allocations holding it (normally 1). */
  ports: Map<number, number>;
  /** Live allocations on this node. */
  allocs: AllocationView[];
}

export interface ClusterIndex {
  readonly kind: "cluster-index";
  nodes: SchedNode[];
  byId: Map<string, SchedNode>;
  /** jobKey(namespace, jobId) → every allocation of the job the caller supplied, live or not. */
  byJob: Map<string, AllocationView[]>;
  allocs: Map<string, AllocationView>;
}

const TERMINAL = new Set(["complete", "failed", "lost", "stopped"]);

/** Whether the allocation holds resources on its node. */
export function isLive(alloc: AllocationView): boolean {
  return !TERMINAL.has(alloc.status);
}

export function jobKey(namespace: string, jobId: string): string {
  return `${namespace}\u0000${jobId}`;
}

export function isClusterIndex(x: unknown): x is ClusterIndex {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "cluster-index";
}

export function indexSnapshot(snapshot: { nodes: readonly NodeView[]; allocations: readonly AllocationView[] }): ClusterIndex {
  const index: ClusterIndex = { kind: "cluster-index", nodes: [], byId: new Map(), byJob: new Map(), allocs: new Map() };
  for (const node of snapshot.nodes) upsertNode(index, node);
  for (const alloc of snapshot.allocations) addAllocation(index, alloc);
  return index;
}

/** Add a node or replace its view (status, resources, attributes changed). Mutates `index`. */
export function upsertNode(index: ClusterIndex, node: NodeView): void {
  const existing = index.byId.get(node.id);
  if (existing) {
    existing.view = node;
    return;
  }
  const entry: SchedNode = { pos: index.nodes.length, view: node, usedCpuMhz: 0, usedMemoryMb: 0, ports: new Map(), allocs: [] };
  index.nodes.push(entry);
  index.byId.set(node.id, entry);
}

/** Record an allocation (replacing one with the same id). Mutates `index`. */
export function addAllocation(index: ClusterIndex, alloc: AllocationView): void {
  if (index.allocs.has(alloc.id)) removeAllocation(index, alloc.id);
  index.allocs.set(alloc.id, alloc);
  const key = jobKey(alloc.namespace, alloc.jobId);
  const list = index.byJob.get(key);
  if (list) list.push(alloc);
  else index.byJob.set(key, [alloc]);
  const node = index.byId.get(alloc.nodeId);
  if (!node || !isLive(alloc)) return;
  node.usedCpuMhz += alloc.resources.cpuMhz;
  node.usedMemoryMb += alloc.resources.memoryMb;
  for (const p of alloc.ports) node.ports.set(p, (node.ports.get(p) ?? 0) + 1);
  node.allocs.push(alloc);
}

/** Forget an allocation (stopped and garbage-collected). Mutates `index`. */
export function removeAllocation(index: ClusterIndex, allocId: string): void {
  const alloc = index.allocs.get(allocId);
  if (!alloc) return;
  index.allocs.delete(allocId);
  const key = jobKey(alloc.namespace, alloc.jobId);
  const list = index.byJob.get(key);
  if (list) {
    const rest = list.filter((a) => a.id !== allocId);
    if (rest.length > 0) index.byJob.set(key, rest);
    else index.byJob.delete(key);
  }
  const node = index.byId.get(alloc.nodeId);
  if (!node || !isLive(alloc)) return;
  const i = node.allocs.findIndex((a) => a.id === allocId);
  if (i < 0) return;
  node.allocs.splice(i, 1);
  node.usedCpuMhz -= alloc.resources.cpuMhz;
  node.usedMemoryMb -= alloc.resources.memoryMb;
  for (const p of alloc.ports) {
    const n = (node.ports.get(p) ?? 0) - 1;
    if (n > 0) node.ports.set(p, n);
    else node.ports.delete(p);
  }
}
