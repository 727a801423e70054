// "Why wasn't it placed?" as Nomad answers it: an evaluation's failed groups
// (the scheduler's FailedGroup, with PlacementMetrics) in the shape of
// Nomad's FailedTGAllocs / AllocMetric, and the text of its "Placement
// Failure" block. Pure and import-free on purpose: the API, the CLI and the
// dashboard's browser bundle (plugins/ui/app) all use it, so the three say
// the same thing in the same words.
//
// corral has no datacenters or node classes, so Nomad's NodesAvailable
// per datacenter and ClassFiltered/ClassExhausted have no counterpart;
// nodes skipped because they are down or draining (Nomad never evaluates
// those) are counted under StatusFiltered instead.

/** The parts of the scheduler's FailedGroup this reads (core/scheduler/types.ts). */
export interface FailedGroupLike {
  group: string;
  missing: number;
  metrics: {
    nodesEvaluated: number;
    nodesFiltered: number;
    nodesExhausted: number;
    reasons: Record<string, number>;
    coalescedFailures: number;
  };
}

/** One group's entry of FailedTGAllocs (Nomad's AllocMetric, the fields corral can fill). */
export interface AllocMetric {
  NodesEvaluated: number;
  NodesFiltered: number;
  NodesExhausted: number;
  /** Constraint text (`${attr.os.name} = linux`, `distinct_hosts`, `driver: ...`) → nodes it filtered. */
  ConstraintFiltered: Record<string, number>;
  /** Node status ("down", "draining") → nodes skipped for it. */
  StatusFiltered: Record<string, number>;
  /** Dimension ("memory", "cpu", "network: static port 8080 in use") → nodes full on it. */
  DimensionExhausted: Record<string, number>;
  /** Allocations of the group that were not placed (this one plus CoalescedFailures). */
  Missing: number;
  CoalescedFailures: number;
}

/** Group name → AllocMetric: Nomad's FailedTGAllocs of one evaluation. */
export type FailedTGAllocs = Record<string, AllocMetric>;

/**
 * Sort one reason text of PlacementMetrics.reasons into Nomad's buckets. The
 * texts are the feasibility checks' verdicts (core/scheduler/feasibility/*,
 * ask.ts); system jobs prefix them with "node NAME: ", which is dropped so
 * that ten full nodes make one line, not ten.
 */
export function classifyReason(reason: string): { bucket: "constraint" | "status" | "dimension"; key: string } {
  const r = reason.replace(/^node \S+: /, "");
  if (r.startsWith("constraint ")) return { bucket: "constraint", key: r.slice("constraint ".length) };
  if (r.startsWith("distinct_hosts")) return { bucket: "constraint", key: "distinct_hosts" };
  if (r.startsWith("driver: ")) return { bucket: "constraint", key: r };
  if (r === "node down" || r === "node draining") return { bucket: "status", key: r.slice("node ".length) };
  if (/^(cpu|memory) exhausted$/.test(r)) return { bucket: "dimension", key: r.split(" ")[0]! };
  if (/port/.test(r)) return { bucket: "dimension", key: `network: ${r}` };
  if (r.startsWith("node ")) return { bucket: "status", key: r.slice("node ".length) };
  return { bucket: "constraint", key: r };
}

export function toAllocMetric(g: FailedGroupLike): AllocMetric {
  const out: AllocMetric = {
    NodesEvaluated: g.metrics.nodesEvaluated,
    NodesFiltered: g.metrics.nodesFiltered,
    NodesExhausted: g.metrics.nodesExhausted,
    ConstraintFiltered: {},
    StatusFiltered: {},
    DimensionExhausted: {},
    Missing: g.missing,
    CoalescedFailures: g.metrics.coalescedFailures,
  };
  for (const [reason, n] of Object.entries(g.metrics.reasons)) {
    const { bucket, key } = classifyReason(reason);
    const into = bucket === "constraint" ? out.ConstraintFiltered : bucket === "status" ? out.StatusFiltered : out.DimensionExhausted;
    into[key] = (into[key] ?? 0) + n;
  }
  return out;
}

export function toFailedTGAllocs(groups: readonly FailedGroupLike[]): FailedTGAllocs {
  const out: FailedTGAllocs = {};
  for (const g of groups) out[g.group] = toAllocMetric(g);
  return out;
}

const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;

/**
 * The "Placement Failure" block of one group, as Nomad prints it:
 *   Task Group "web" (failed to place 2 allocations):
 *     * Constraint `${attr.os.name} = linux`: 3 nodes excluded by filter
 *     * Resources exhausted on 1 node
 *     * Dimension "memory" exhausted on 1 node
 */
export function placementFailureLines(group: string, m: AllocMetric): string[] {
  const lines = [`Task Group "${group}" (failed to place ${plural(m.Missing, "allocation")}):`];
  lines.push(`  * ${plural(m.NodesEvaluated, "node")} evaluated: ${m.NodesFiltered} filtered, ${m.NodesExhausted} exhausted`);
  const sorted = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [status, n] of sorted(m.StatusFiltered)) lines.push(`  * Node status "${status}": ${plural(n, "node")} skipped`);
  for (const [c, n] of sorted(m.ConstraintFiltered)) lines.push(`  * Constraint \`${c}\`: ${plural(n, "node")} excluded by filter`);
  if (m.NodesExhausted > 0) lines.push(`  * Resources exhausted on ${plural(m.NodesExhausted, "node")}`);
  for (const [d, n] of sorted(m.DimensionExhausted)) lines.push(`  * Dimension "${d}" exhausted on ${plural(n, "node")}`);
  if (m.NodesEvaluated === 0) lines.push("  * No node is ready to run it (see `corral nodes`)");
  return lines;
}

/** Every group's block, in group order. */
export function placementFailureText(failed: FailedTGAllocs): string[] {
  return Object.entries(failed).flatMap(([g, m]) => placementFailureLines(g, m));
}
