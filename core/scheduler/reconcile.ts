// Reconciliation: compare what the job wants (count per group) with the
// allocations it has, and decide what to stop and which group indexes to
// place. Indexes are stable (Nomad's `job.group[i]`): a replacement takes the
// index of the allocation it replaces, and lowering the count stops the
// highest indexes first.
//
// Not handled here: rolling updates of changed tasks (update.max_parallel,
// health gating) and reschedule back-off for failed allocations; those need
// deployment state and time, which the caller owns. A failed allocation the
// caller leaves out of the snapshot (or passes as "failed") is simply replaced.

import { isLive, type ClusterIndex } from "./cluster-index.ts";
import { runsToCompletion, type Job, type TaskGroup } from "./jobspec/types.ts";
import type { AllocationView, Stop, StopReason } from "./types.ts";

export interface GroupWork {
  group: TaskGroup;
  /** Group indexes to place, ascending. */
  place: number[];
}

export interface Reconciliation {
  stops: Stop[];
  work: GroupWork[];
}

export function reconcile(job: Job, allocs: readonly AllocationView[], index: ClusterIndex): Reconciliation {
  const stops: Stop[] = [];
  const work: GroupWork[] = [];
  const groupNames = new Set(job.groups.map((g) => g.name));
  for (const a of allocs) {
    if (isLive(a) && !groupNames.has(a.group)) {
      stops.push(stopOf(a, "group-removed", `group "${a.group}" is no longer in job "${job.id}"`));
    }
  }
  for (const group of job.groups) {
    const mine = allocs.filter((a) => a.group === group.name);
    work.push({ group, place: reconcileGroup(job, group, mine, index, stops) });
  }
  return { stops, work };
}

/** Returns the indexes to place; appends stops. */
function reconcileGroup(job: Job, group: TaskGroup, allocs: AllocationView[], index: ClusterIndex, stops: Stop[]): number[] {
  const held = new Map<number, AllocationView>();
  const unindexed: AllocationView[] = [];
  // A finished batch allocation keeps its index: the work is done, don't re-run it.
  const counted = allocs
    .filter((a) => isLive(a) || (runsToCompletion(job.type) && a.status === "complete"))
    .sort(byIndexThenId);
  for (const a of counted) {
    if (isLive(a)) {
      const status = index.byId.get(a.nodeId)?.view.status;
      if (status === undefined || status === "down") {
        stops.push(stopOf(a, "node-down", `node ${a.nodeId} is ${status ?? "unknown"}; allocation lost, replacing it`));
        continue;
      }
      if (status === "draining") {
        stops.push(stopOf(a, "node-draining", `node ${a.nodeId} is draining; migrating the allocation`));
        continue;
      }
    }
    const i = a.taskGroupIndex;
    if (i === undefined || i < 0 || !Number.isInteger(i) || held.has(i)) unindexed.push(a);
    else held.set(i, a);
  }
  let next = 0;
  for (const a of unindexed) {
    while (held.has(next)) next++;
    held.set(next, a);
  }
  for (const [i, a] of [...held].sort((x, y) => y[0] - x[0])) {
    if (i < group.count) continue;
    held.delete(i);
    if (isLive(a)) stops.push(stopOf(a, "count-lowered", `count of group "${group.name}" lowered to ${group.count}`));
  }
  const place: number[] = [];
  for (let i = 0; i < group.count; i++) if (!held.has(i)) place.push(i);
  return place;
}

function byIndexThenId(a: AllocationView, b: AllocationView): number {
  const ia = a.taskGroupIndex ?? Number.MAX_SAFE_INTEGER;
  const ib = b.taskGroupIndex ?? Number.MAX_SAFE_INTEGER;
  if (ia !== ib) return ia - ib;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function stopOf(a: AllocationView, reason: StopReason, message: string): Stop {
  return { allocId: a.id, nodeId: a.nodeId, namespace: a.namespace, jobId: a.jobId, group: a.group, reason, message };
}
