// Preemption: when no node fits, look for one node where evicting
// lower-priority allocations makes room. Victims must have priority at most
// job priority − preemptionPriorityDelta (never equal or higher), never belong
// to the job being placed, and are not already stopped by this plan.
//
// Per node the eviction set is built greedily (lowest priority first, the
// allocation covering most of what is missing first), then trimmed of any
// victim that turns out not to be needed. Across nodes the best set has the
// lowest highest-victim priority, then the fewest victims, then the least
// evicted capacity. Like selectNode, only a bounded number of workable nodes
// is compared.

import type { GroupAsk } from "./ask.ts";
import { isLive, type SchedNode } from "./cluster-index.ts";
import { freeCpuMhz, freeMemoryMb, portInUse, type EvalContext } from "./eval-context.ts";
import { nextInOrder } from "./order.ts";
import { newMetrics } from "./metrics.ts";
import { feasible, FILTER_CHECKS } from "./pipeline.ts";
import type { AllocationView } from "./types.ts";

/** Nodes with a workable eviction set compared per placement. */
export const PREEMPTION_CANDIDATES = 16;

export interface PreemptionChoice {
  node: SchedNode;
  victims: AllocationView[];
}

interface Need {
  cpuMhz: number;
  memoryMb: number;
}

export function findPreemption(ctx: EvalContext, ask: GroupAsk): PreemptionChoice | null {
  const nodes = ctx.index.nodes;
  const maxVictimPriority = ask.priority - ctx.opts.preemptionPriorityDelta;
  const scratch = newMetrics(); // these rejections were already counted by the normal pass
  let best: PreemptionChoice | null = null;
  let found = 0;
  for (let scanned = 0; scanned < nodes.length && found < PREEMPTION_CANDIDATES; scanned++) {
    const node = nodes[nextInOrder(ctx.order, ctx.rng)]!;
    if (!feasible(node, ask, ctx, scratch, FILTER_CHECKS)) continue;
    const victims = chooseVictims(ctx, node, ask, maxVictimPriority);
    if (!victims) continue;
    found++;
    if (best === null || better(victims, best.victims, node, best.node)) best = { node, victims };
  }
  return best;
}

/** The smallest sufficient set of evictable allocations on `node`, or null. */
export function chooseVictims(ctx: EvalContext, node: SchedNode, ask: GroupAsk, maxVictimPriority: number): AllocationView[] | null {
  const need: Need = {
    cpuMhz: ask.resources.cpuMhz - freeCpuMhz(ctx, node),
    memoryMb: ask.resources.memoryMb - freeMemoryMb(ctx, node),
  };
  const evictable = node.allocs.filter(
    (a) => isLive(a) && !ctx.stopped.has(a.id) && a.priority <= maxVictimPriority && !(a.jobId === ask.jobId && a.namespace === ask.namespace),
  );
  // Static ports held by an allocation must be freed too, whatever its size.
  const mustGo = evictable.filter((a) => a.ports.some((p) => ask.staticPorts.includes(p)));
  const rest = evictable
    .filter((a) => !mustGo.includes(a))
    .sort((a, b) => a.priority - b.priority || cover(b, need) - cover(a, need) || (a.id < b.id ? -1 : 1));
  const chosen = [...mustGo];
  for (const a of rest) {
    if (satisfied(chosen, need)) break;
    chosen.push(a);
  }
  if (!satisfied(chosen, need)) return null;
  trim(chosen, mustGo, need);
  if (ask.staticPorts.some((p) => portInUse(ctx, node, p) && !chosen.some((a) => a.ports.includes(p)))) return null;
  return chosen.length > 0 ? chosen : null;
}

/** How much of the missing capacity one allocation covers, in [0, 2]. */
function cover(a: AllocationView, need: Need): number {
  const c = need.cpuMhz > 0 ? Math.min(a.resources.cpuMhz, need.cpuMhz) / need.cpuMhz : 0;
  const m = need.memoryMb > 0 ? Math.min(a.resources.memoryMb, need.memoryMb) / need.memoryMb : 0;
  return c + m;
}

function satisfied(victims: readonly AllocationView[], need: Need): boolean {
  let cpu = 0;
  let mem = 0;
  for (const v of victims) {
    cpu += v.resources.cpuMhz;
    mem += v.resources.memoryMb;
  }
  return cpu >= need.cpuMhz && mem >= need.memoryMb;
}

/** Drop victims that are not needed, trying the highest priority (then largest) first. */
function trim(chosen: AllocationView[], keep: readonly AllocationView[], need: Need): void {
  const order = [...chosen].sort(
    (a, b) => b.priority - a.priority || b.resources.cpuMhz + b.resources.memoryMb - (a.resources.cpuMhz + a.resources.memoryMb),
  );
  for (const a of order) {
    if (keep.includes(a)) continue;
    const without = chosen.filter((x) => x !== a);
    if (satisfied(without, need)) chosen.splice(chosen.indexOf(a), 1);
  }
}

function better(a: AllocationView[], b: AllocationView[], nodeA: SchedNode, nodeB: SchedNode): boolean {
  const pa = Math.max(...a.map((v) => v.priority));
  const pb = Math.max(...b.map((v) => v.priority));
  if (pa !== pb) return pa < pb;
  if (a.length !== b.length) return a.length < b.length;
  const size = (vs: AllocationView[], n: SchedNode) =>
    vs.reduce((s, v) => s + v.resources.cpuMhz / n.view.resources.cpuMhz + v.resources.memoryMb / n.view.resources.memoryMb, 0);
  return size(a, nodeA) < size(b, nodeB);
}
