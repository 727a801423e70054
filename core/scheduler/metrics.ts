// Rejection bookkeeping, like Nomad's AllocMetric: every node a check turns
// away is counted under the check's name and under its reason text, so the
// API can answer "why wasn't it placed?" without re-running anything.

import type { PlacementMetrics } from "./types.ts";

/** "filter": the node can never host this ask as it stands; "exhaust": it is full. */
export type RejectionKind = "filter" | "exhaust";

export function newMetrics(): PlacementMetrics {
  return { nodesEvaluated: 0, nodesFiltered: 0, nodesExhausted: 0, byCheck: {}, reasons: {}, coalescedFailures: 0 };
}

export function recordRejection(m: PlacementMetrics, check: string, kind: RejectionKind, reason: string): void {
  if (kind === "filter") m.nodesFiltered++;
  else m.nodesExhausted++;
  m.byCheck[check] = (m.byCheck[check] ?? 0) + 1;
  m.reasons[reason] = (m.reasons[reason] ?? 0) + 1;
}

/** Fold `from` into `into` (used when a failed group is retried with preemption). */
export function mergeMetrics(into: PlacementMetrics, from: PlacementMetrics): void {
  into.nodesEvaluated += from.nodesEvaluated;
  into.nodesFiltered += from.nodesFiltered;
  into.nodesExhausted += from.nodesExhausted;
  for (const [k, v] of Object.entries(from.byCheck)) into.byCheck[k] = (into.byCheck[k] ?? 0) + v;
  for (const [k, v] of Object.entries(from.reasons)) into.reasons[k] = (into.reasons[k] ?? 0) + v;
}
