// Per-evaluation working state. The ClusterIndex passed in is read-only; what
// this evaluation plans (placements, stops, evictions) lives in small deltas
// keyed by node, so free resources are kept up to date incrementally instead
// of being recomputed from every allocation for every placement.

import type { CompiledSpread, GroupAsk } from "./ask.ts";
import { isLive, jobKey, type ClusterIndex, type SchedNode } from "./cluster-index.ts";
import type { Job } from "./jobspec/types.ts";
import { newOrder, type NodeOrder } from "./order.ts";
import { DEFAULT_PORT_RANGE, type Resources, type Rng, type ScheduleOptions, type Stop } from "./types.ts";

export interface ResolvedOptions {
  preemption: boolean;
  preemptionPriorityDelta: number;
  portRange: { min: number; max: number };
  candidateLimit?: number;
  algorithm: "binpack" | "spread";
}

/** What this evaluation changed on one node. */
interface NodeDelta {
  cpuMhz: number;
  memoryMb: number;
  /** port → net change in holders. */
  ports: Map<number, number>;
}

/** What the evaluation tracks per task group. */
export interface GroupState {
  /** node position → live allocations of the group, after this plan. */
  onNode: Map<number, number>;
  /** Per node position: undefined (not checked yet), true, or the failing constraint's text. */
  constraintVerdicts: (true | string | undefined)[];
  /** Per spread block: attribute value → live allocations of the group. */
  spreadCounts: Map<CompiledSpread, Map<string, number>>;
  /** Per spread block: least/most used value count, valid for one generation. */
  spreadBounds: Map<CompiledSpread, { generation: number; min: number; max: number }>;
  /** Seeded order over the nodes that could fit one allocation when the group started placing. */
  candidates: NodeOrder | null;
}

export interface EvalContext {
  index: ClusterIndex;
  job: Job;
  rng: Rng;
  opts: ResolvedOptions;
  delta: Map<number, NodeDelta>;
  /** Allocation ids this plan stops (including preemptions). */
  stopped: Set<string>;
  /** Live allocations of this job per node position, after this plan. */
  jobOnNode: Map<number, number>;
  groups: Map<string, GroupState>;
  lastGroup: [string, GroupState] | null;
  /** Bumped by every placement; lets rankers cache per-placement figures. */
  generation: number;
  /** attribute → distinct values over ready nodes, computed on first use. */
  spreadValues: Map<string, string[]>;
  /** Seeded order over every node: explaining failures, preemption. */
  order: NodeOrder;
}

export function resolveOptions(opts: ScheduleOptions): ResolvedOptions {
  return {
    preemption: opts.preemption ?? false,
    preemptionPriorityDelta: Math.max(1, opts.preemptionPriorityDelta ?? 1),
    portRange: opts.portRange ?? { ...DEFAULT_PORT_RANGE },
    ...(opts.candidateLimit !== undefined ? { candidateLimit: opts.candidateLimit } : {}),
    algorithm: opts.algorithm ?? "binpack",
  };
}

/** Build the context after reconciliation decided which of the job's allocs stop. */
export function createEvalContext(index: ClusterIndex, job: Job, rng: Rng, opts: ResolvedOptions, stopped: Set<string>): EvalContext {
  const ctx: EvalContext = {
    index, job, rng, opts, stopped,
    delta: new Map(),
    jobOnNode: new Map(),
    groups: new Map(),
    lastGroup: null,
    generation: 0,
    spreadValues: new Map(),
    order: newOrder(index.nodes.length),
  };
  for (const alloc of liveJobAllocs(ctx)) {
    const node = index.byId.get(alloc.nodeId);
    if (!node) continue;
    bump(ctx.jobOnNode, node.pos, 1);
    bump(groupState(ctx, alloc.group).onNode, node.pos, 1);
  }
  return ctx;
}

function bump<K>(m: Map<K, number>, key: K, by: number): void {
  m.set(key, (m.get(key) ?? 0) + by);
}

export function groupState(ctx: EvalContext, group: string): GroupState {
  // Checks and rankers ask for the same group many times in a row.
  if (ctx.lastGroup !== null && ctx.lastGroup[0] === group) return ctx.lastGroup[1];
  let g = ctx.groups.get(group);
  if (!g) {
    g = { onNode: new Map(), constraintVerdicts: new Array(ctx.index.nodes.length), spreadCounts: new Map(), spreadBounds: new Map(), candidates: null };
    ctx.groups.set(group, g);
  }
  ctx.lastGroup = [group, g];
  return g;
}

export function freeCpuMhz(ctx: EvalContext, node: SchedNode): number {
  const v = node.view;
  return v.resources.cpuMhz - v.reserved.cpuMhz - node.usedCpuMhz - (ctx.delta.get(node.pos)?.cpuMhz ?? 0);
}

export function freeMemoryMb(ctx: EvalContext, node: SchedNode): number {
  const v = node.view;
  return v.resources.memoryMb - v.reserved.memoryMb - node.usedMemoryMb - (ctx.delta.get(node.pos)?.memoryMb ?? 0);
}

export function portInUse(ctx: EvalContext, node: SchedNode, port: number): boolean {
  return (node.ports.get(port) ?? 0) + (ctx.delta.get(node.pos)?.ports.get(port) ?? 0) > 0;
}

/** Ports held on the node inside [min, max] (an upper bound when this plan freed some). */
export function portsHeldInRange(ctx: EvalContext, node: SchedNode, min: number, max: number): number {
  let held = 0;
  for (const p of node.ports.keys()) if (p >= min && p <= max) held++;
  for (const [p, n] of ctx.delta.get(node.pos)?.ports ?? []) if (n > 0 && p >= min && p <= max) held++;
  return held;
}

/** Charge (sign 1) or credit (sign -1) a node for resources and ports. */
export function adjustNode(ctx: EvalContext, node: SchedNode, res: Resources, ports: readonly number[], sign: 1 | -1): void {
  let d = ctx.delta.get(node.pos);
  if (!d) ctx.delta.set(node.pos, (d = { cpuMhz: 0, memoryMb: 0, ports: new Map() }));
  d.cpuMhz += sign * res.cpuMhz;
  d.memoryMb += sign * res.memoryMb;
  for (const p of ports) bump(d.ports, p, sign);
}

/** Give a stopped allocation's resources and ports back to its node for this plan. */
export function release(ctx: EvalContext, stop: Stop): void {
  const alloc = ctx.index.allocs.get(stop.allocId);
  const node = ctx.index.byId.get(stop.nodeId);
  if (alloc && node) adjustNode(ctx, node, alloc.resources, alloc.ports, -1);
}

/** Record a placement of `ask` on `node` in the job/group/spread counters. */
export function countPlacement(ctx: EvalContext, node: SchedNode, ask: GroupAsk): void {
  ctx.generation++;
  bump(ctx.jobOnNode, node.pos, 1);
  bump(groupState(ctx, ask.group).onNode, node.pos, 1);
  for (const s of ask.spreads) {
    const value = s.read(node.view);
    if (value !== undefined) bump(spreadCountsFor(ctx, ask, s), value, 1);
  }
}

/** value → live allocations of the group, built from the snapshot on first use. */
export function spreadCountsFor(ctx: EvalContext, ask: GroupAsk, spread: CompiledSpread): Map<string, number> {
  const g = groupState(ctx, ask.group);
  let counts = g.spreadCounts.get(spread);
  if (counts) return counts;
  counts = new Map();
  g.spreadCounts.set(spread, counts);
  for (const alloc of liveJobAllocs(ctx)) {
    const node = alloc.group === ask.group ? ctx.index.byId.get(alloc.nodeId) : undefined;
    const value = node ? spread.read(node.view) : undefined;
    if (value !== undefined) bump(counts, value, 1);
  }
  return counts;
}

function liveJobAllocs(ctx: EvalContext) {
  const all = ctx.index.byJob.get(jobKey(ctx.job.namespace, ctx.job.id)) ?? [];
  return all.filter((a) => isLive(a) && !ctx.stopped.has(a.id));
}
