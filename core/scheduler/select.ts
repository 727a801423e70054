// Candidate selection: walk nodes in the evaluation's seeded order, keep the
// first `limit` feasible ones, score only those, take the best. Nomad does the
// same with its LimitIterator: scoring every one of 10,000 nodes per placement
// buys little packing quality for a lot of time, while the best of a few
// random feasible nodes ("power of k choices") is close to the best overall.
// The order's cursor carries on between placements, so successive placements
// look at fresh nodes instead of re-scoring the same first few.

import type { GroupAsk } from "./ask.ts";
import type { SchedNode } from "./clusterIndex.ts";
import { nextNodePos, type EvalContext, type ResolvedOptions } from "./evalContext.ts";
import { feasible, rankersFor, score } from "./pipeline.ts";
import type { PlacementMetrics } from "./types.ts";

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
  let limit = ask.jobType === "batch" ? BATCH_CANDIDATES : Math.max(2, Math.ceil(Math.log2(nodeCount)));
  if (ask.spreads.length > 0) limit = Math.max(limit, SPREAD_CANDIDATES);
  return limit;
}

/**
 * The best of up to `limit` feasible nodes, or null after one full pass found
 * none; then `metrics` says why. Rejections of a successful placement are not
 * kept (nobody asks why a placed allocation skipped some nodes), so the pass
 * runs without bookkeeping and only a failed one is repeated to explain it.
 * The repeat sees the same state and the whole (already drawn) order, so it
 * rejects the same nodes for the same reasons.
 */
export function selectNode(ctx: EvalContext, ask: GroupAsk, metrics: PlacementMetrics): Choice | null {
  const best = scan(ctx, ask, null);
  if (best === null) scan(ctx, ask, metrics);
  return best;
}

function scan(ctx: EvalContext, ask: GroupAsk, metrics: PlacementMetrics | null): Choice | null {
  const nodes = ctx.index.nodes;
  const n = nodes.length;
  const limit = candidateLimit(n, ask, ctx.opts);
  const rankers = rankersFor(ask);
  let best: Choice | null = null;
  let found = 0;
  let scanned = 0;
  for (; scanned < n && found < limit; scanned++) {
    const node = nodes[nextNodePos(ctx)]!;
    if (!feasible(node, ask, ctx, metrics)) continue;
    found++;
    const s = score(node, ask, ctx, rankers);
    if (best === null || s > best.score) best = { node, score: s };
  }
  if (metrics) metrics.nodesEvaluated += scanned;
  return best;
}
