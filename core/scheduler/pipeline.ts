// The placement pipeline in one place (after Nomad's NewGenericStack): the
// feasibility checks a node must pass, in order, then the rankers whose
// scores are averaged. Order matters for speed, since a node stops at its
// first failing check, and for the answer to "why not": a node is counted
// under the first check that rejected it.

import type { GroupAsk } from "./ask.ts";
import type { SchedNode } from "./cluster-index.ts";
import type { EvalContext } from "./eval-context.ts";
import { constraintsMatch } from "./feasibility/constraints.ts";
import { distinctHosts } from "./feasibility/distinct-hosts.ts";
import { nodeReady } from "./feasibility/node-status.ts";
import { portsFree } from "./feasibility/ports.ts";
import { resourcesFit } from "./feasibility/resources.ts";
import type { FeasibilityCheck } from "./feasibility/types.ts";
import { recordRejection, type RejectionKind } from "./metrics.ts";
import { antiAffinity } from "./rank/anti-affinity.ts";
import { binpack } from "./rank/binpack.ts";
import { spread } from "./rank/spread.ts";
import type { Ranker } from "./rank/types.ts";
import type { PlacementMetrics } from "./types.ts";

export interface CheckStage {
  name: string;
  /** "filter" rejections are permanent for this ask; "exhaust" ones preemption may cure. */
  kind: RejectionKind;
  check: FeasibilityCheck;
}

export const FEASIBILITY: readonly CheckStage[] = [
  // One field compare. Down and draining nodes are the commonest reject
  // after a failure, and nothing else should look at them.
  { name: "node-status", kind: "filter", check: nodeReady },
  // Attribute compares, cached per node per group, so O(1) after the first
  // visit. Before resources: a node that can never match should be reported
  // as "constraint", not as "full".
  { name: "constraints", kind: "filter", check: constraintsMatch },
  // One map lookup in the evaluation's per-node job counters.
  { name: "distinct-hosts", kind: "filter", check: distinctHosts },
  // Two subtractions against incrementally kept usage.
  { name: "resources", kind: "exhaust", check: resourcesFit },
  // Set lookups per static port, and a rare count of the dynamic range.
  // Last: the most expensive check, and only meaningful on a node that fits.
  { name: "ports", kind: "exhaust", check: portsFree },
];

/** The checks preemption re-runs after evicting: what eviction can change. */
export const EXHAUST_CHECKS: readonly CheckStage[] = FEASIBILITY.filter((s) => s.kind === "exhaust");
/** The checks eviction cannot change: a node failing these is no preemption candidate. */
export const FILTER_CHECKS: readonly CheckStage[] = FEASIBILITY.filter((s) => s.kind === "filter");

export interface RankStage {
  name: string;
  /** Whether this ranker has an opinion about the ask; absent rankers don't dilute the average. */
  applies: (ask: GroupAsk) => boolean;
  rank: Ranker;
}

export const RANKING: readonly RankStage[] = [
  // Always: packing is the default goal (or its inverse, with algorithm "spread").
  { name: "binpack", applies: () => true, rank: binpack },
  // Only with spread blocks. It can outvote binpack: a node on an
  // under-used value scores ~1 here, one on the most used value ~0.
  { name: "spread", applies: (ask) => ask.spreads.length > 0, rank: spread },
  // Only when the group has siblings to collide with; a weak push apart
  // (1/count per collision), distinct_hosts is the hard version.
  { name: "job-anti-affinity", applies: (ask) => ask.count > 1, rank: antiAffinity },
];

/** Run `stages` in order; true when all pass. Rejections go to `metrics` unless it is null. */
export function feasible(
  node: SchedNode,
  ask: GroupAsk,
  ctx: EvalContext,
  metrics: PlacementMetrics | null,
  stages: readonly CheckStage[] = FEASIBILITY,
): boolean {
  for (const stage of stages) {
    const verdict = stage.check(node, ask, ctx);
    if (verdict !== true) {
      if (metrics) recordRejection(metrics, stage.name, stage.kind, verdict);
      return false;
    }
  }
  return true;
}

/** The rankers that apply to `ask`, resolved once per placement. */
export function rankersFor(ask: GroupAsk): Ranker[] {
  return RANKING.filter((r) => r.applies(ask)).map((r) => r.rank);
}

/** Score normalization: the plain average of the applicable rankers, in [0, 1]. */
export function score(node: SchedNode, ask: GroupAsk, ctx: EvalContext, rankers: readonly Ranker[]): number {
  let sum = 0;
  for (const r of rankers) sum += r(node, ask, ctx);
  return rankers.length === 0 ? 0 : sum / rankers.length;
}
