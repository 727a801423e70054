// Candidate selection: walk nodes in a seeded random order, keep the first
// `limit` feasible ones, score only those, take the best. Nomad does the same
// with its LimitIterator: scoring every one of 10,000 nodes per placement buys
// little packing quality for a lot of time, while the best of a few random
// feasible nodes ("power of k choices") is close to the best overall. The
// order's cursor carries on between placements, so successive placements look
// at fresh nodes instead of re-scoring the same first few.
//
// The walk is over a per-group candidate list: the ready nodes that had room
// for one allocation when the group started placing (one tight loop of two
// subtractions per node). In a full cluster most nodes fail exactly that, and
// skipping them up front is far cheaper than drawing and checking them one by
// one for every placement. The full pipeline still runs on each candidate,
// since this plan's own placements keep filling nodes.

import type { GroupAsk } from "./ask.ts";
import type { SchedNode } from "./cluster-index.ts";
import { freeCpuMhz, freeMemoryMb, groupState, type EvalContext, type ResolvedOptions } from "./eval-context.ts";
import { newOrder, nextInOrder, type NodeOrder } from "./order.ts";
import { feasible, rankersFor, score } from "./pipeline.ts";
import type { PlacementMetrics } from "./types.ts";
import { runsToCompletion } from "./jobspec/types.ts";

/** Up to this many nodes, score every feasible node: the sample would be most of the cluster anyway. */
export const SMALL_CLUSTER_NODES = 32;
/** Batch jobs: best of two (Nomad's batch limit): throughput over packing for short-lived work. */
export const BATCH_CANDIDATES = 2;
/** Spread needs to see every attribute value to even them out; racks and zones are usually fewer than this. */
export const SPREAD_CANDIDATES = 64;

export interface Choice {
  node: SchedNode;
  score: number;
}

/** Feasible nodes scored per placement. Service jobs: ⌈log2 n⌉, as in Nomad. */
export function candidateLimit(nodeCount: number, ask: GroupAsk, opts: ResolvedOptions): number {
  if (opts.candidateLimit !== undefined) return Math.max(1, opts.candidateLimit);
  if (nodeCount <= SMALL_CLUSTER_NODES) return nodeCount;
  let limit = runsToCompletion(ask.jobType) ? BATCH_CANDIDATES : Math.max(2, Math.ceil(Math.log2(nodeCount)));
  if (ask.spreads.length > 0) limit = Math.max(limit, SPREAD_CANDIDATES);
  return limit;
}

/**
 * The best of up to `limit` feasible nodes, or null when none is left.
 * First over the group's candidate list; when that runs dry, one pass over
 * every node in the evaluation's order, which both finds nodes that gained
 * room after the list was built (preemption) and, on failure, records in
 * `metrics` why each node was turned away. Successful placements keep no
 * rejection counts: nobody asks why a placed allocation skipped some nodes.
 */
export function selectNode(ctx: EvalContext, ask: GroupAsk, metrics: PlacementMetrics): Choice | null {
  return scan(ctx, ask, candidateOrder(ctx, ask), null) ?? scan(ctx, ask, ctx.order, metrics);
}

function scan(ctx: EvalContext, ask: GroupAsk, order: NodeOrder, metrics: PlacementMetrics | null): Choice | null {
  const nodes = ctx.index.nodes;
  const limit = candidateLimit(nodes.length, ask, ctx.opts);
  const rankers = rankersFor(ask);
  let best: Choice | null = null;
  let found = 0;
  let scanned = 0;
  for (; scanned < order.size && found < limit; scanned++) {
    const node = nodes[nextInOrder(order, ctx.rng)]!;
    if (!feasible(node, ask, ctx, metrics)) continue;
    found++;
    const s = score(node, ask, ctx, rankers);
    if (best === null || s > best.score) best = { node, score: s };
  }
  if (metrics) metrics.nodesEvaluated += scanned;
  return best;
}

/** The group's candidate order, built on its first placement. */
function candidateOrder(ctx: EvalContext, ask: GroupAsk): NodeOrder {
  const g = groupState(ctx, ask.group);
  if (g.candidates) return g.candidates;
  const nodes = ctx.index.nodes;
  const list = new Int32Array(nodes.length);
  let size = 0;
  const { cpuMhz, memoryMb } = ask.resources;
  for (const node of nodes) {
    if (node.view.status === "ready" && freeCpuMhz(ctx, node) >= cpuMhz && freeMemoryMb(ctx, node) >= memoryMb) list[size++] = node.pos;
  }
  g.candidates = newOrder(size, list.subarray(0, size));
  return g.candidates;
}
