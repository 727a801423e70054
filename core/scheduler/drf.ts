// Dominant resource fairness (Ghodsi et al., NSDI 2011) between namespaces.
// A namespace's dominant share is its largest share of any one resource:
// max(cpu used / cpu capacity, memory used / memory capacity), divided by its
// weight. When evaluations of several namespaces compete, the namespace with
// the smallest dominant share goes first; after each pick its share grows by
// what that evaluation asks for (progressive filling), so a namespace with a
// long queue cannot starve the others. Priority still comes first: DRF only
// orders evaluations of equal priority (see queue.ts and docs/scheduler.md).

import type { Job } from "./jobspec/types.ts";
import type { Resources } from "./types.ts";

export interface DrfInput {
  /** Resources each namespace's live allocations hold now. Missing: none. */
  usage: Readonly<Record<string, Resources>>;
  /** Offered capacity of the cluster (ready nodes, capacity − reserved). */
  capacity: Resources;
  /** Namespace weights; a weight of 2 is entitled to twice the share. Default 1. */
  weights?: Readonly<Record<string, number>>;
}

export function dominantShare(usage: Resources, capacity: Resources, weight = 1): number {
  const cpu = capacity.cpuMhz > 0 ? usage.cpuMhz / capacity.cpuMhz : 0;
  const mem = capacity.memoryMb > 0 ? usage.memoryMb / capacity.memoryMb : 0;
  return Math.max(cpu, mem) / (weight > 0 ? weight : 1);
}

/** What a job asks for in total: Σ count × task resources. */
export function jobDemand(job: Job): Resources {
  const out = { cpuMhz: 0, memoryMb: 0 };
  for (const g of job.groups) {
    for (const t of g.tasks) {
      out.cpuMhz += g.count * t.resources.cpuMhz;
      out.memoryMb += g.count * t.resources.memoryMb;
    }
  }
  return out;
}

/**
 * Order `pending` by progressive DRF. Within a namespace the input order is
 * kept; ties between namespaces go to the one whose next item came first.
 * `demand` is what an item will add to its namespace (absent: nothing).
 */
export function drfOrder<T extends { namespace: string; demand?: Resources }>(pending: readonly T[], input: DrfInput): T[] {
  const queues = new Map<string, { items: { item: T; at: number }[]; head: number }>();
  pending.forEach((item, at) => {
    const q = queues.get(item.namespace);
    if (q) q.items.push({ item, at });
    else queues.set(item.namespace, { items: [{ item, at }], head: 0 });
  });
  const used = new Map<string, Resources>();
  for (const ns of queues.keys()) used.set(ns, { ...(input.usage[ns] ?? { cpuMhz: 0, memoryMb: 0 }) });
  const out: T[] = [];
  while (out.length < pending.length) {
    let pick: string | null = null;
    let pickShare = Infinity;
    let pickAt = Infinity;
    for (const [ns, q] of queues) {
      if (q.head >= q.items.length) continue;
      const share = dominantShare(used.get(ns)!, input.capacity, input.weights?.[ns] ?? 1);
      const at = q.items[q.head]!.at;
      if (share < pickShare || (share === pickShare && at < pickAt)) [pick, pickShare, pickAt] = [ns, share, at];
    }
    const q = queues.get(pick!)!;
    const { item } = q.items[q.head++]!;
    out.push(item);
    const u = used.get(pick!)!;
    u.cpuMhz += item.demand?.cpuMhz ?? 0;
    u.memoryMb += item.demand?.memoryMb ?? 0;
  }
  return out;
}
