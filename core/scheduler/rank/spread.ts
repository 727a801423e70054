import type { CompiledSpread, GroupAsk } from "../ask.ts";
import { groupState, spreadCountsFor, type EvalContext } from "../eval-context.ts";
import type { Ranker } from "./types.ts";

/**
 * Spread: favour nodes whose attribute value is under-used by this group.
 * With targets, a value wanting d allocations and holding u scores
 * 0.5 + 0.5·(d − u)/d (1 when empty, 0.5 when on target, 0 at twice the
 * target); values without a target share the leftover percent. Without
 * targets, values are compared with the least-used value in the cluster: the
 * least used score 1, the most used 0. Nodes missing the attribute score 0.
 * Several spread blocks are averaged.
 */
export const spread: Ranker = (node, ask, ctx) => {
  let sum = 0;
  for (const s of ask.spreads) sum += spreadScore(s, ask, ctx, s.read(node.view));
  return ask.spreads.length === 0 ? 1 : sum / ask.spreads.length;
};

function spreadScore(s: CompiledSpread, ask: GroupAsk, ctx: EvalContext, value: string | undefined): number {
  if (value === undefined) return 0;
  const counts = spreadCountsFor(ctx, ask, s);
  const used = counts.get(value) ?? 0;
  if (s.targets.size > 0) return targetScore(s, counts, ask.count, value, used);
  const { min, max } = evenBounds(s, ask, counts, ctx);
  return max === min ? 1 : Math.max(0, 1 - (used - min) / (max - min));
}

function targetScore(s: CompiledSpread, counts: Map<string, number>, count: number, value: string, used: number): number {
  const pct = s.targets.get(value);
  let desired: number;
  let have = used;
  if (pct !== undefined) desired = (pct / 100) * count;
  else {
    // Values without a target draw from one shared bucket.
    desired = (s.otherPercent / 100) * count;
    have = 0;
    for (const [v, n] of counts) if (!s.targets.has(v)) have += n;
  }
  if (desired <= 0) return 0;
  return Math.max(0, Math.min(1, 0.5 + (0.5 * (desired - have)) / desired));
}

/**
 * Least and most used value among all values on ready nodes. O(values), so it
 * is cached until the next placement changes the counts.
 */
function evenBounds(s: CompiledSpread, ask: GroupAsk, counts: Map<string, number>, ctx: EvalContext): { min: number; max: number } {
  const cache = groupState(ctx, ask.group).spreadBounds;
  const cached = cache.get(s);
  if (cached && cached.generation === ctx.generation) return cached;
  const values = spreadValues(s, ctx);
  let min = Infinity;
  let max = 0;
  for (const v of values) {
    const n = counts.get(v) ?? 0;
    if (n < min) min = n;
    if (n > max) max = n;
  }
  const bounds = { generation: ctx.generation, min: min === Infinity ? 0 : min, max };
  cache.set(s, bounds);
  return bounds;
}

function spreadValues(s: CompiledSpread, ctx: EvalContext): string[] {
  let values = ctx.spreadValues.get(s.attribute);
  if (values) return values;
  const seen = new Set<string>();
  for (const n of ctx.index.nodes) {
    if (n.view.status !== "ready") continue;
    const v = s.read(n.view);
    if (v !== undefined) seen.add(v);
  }
  values = [...seen];
  ctx.spreadValues.set(s.attribute, values);
  return values;
}
