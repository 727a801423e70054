// One evaluation: snapshot + job → Plan. Pure: the same snapshot, job,
// evaluation id and options give the same plan, because every random choice
// (node order, dynamic ports) comes from a generator seeded by the
// evaluation id. The plan is data; core/state commits it.
//
// Steps: reconcile (what to stop, which indexes to place) → apply the stops
// to the working state → place each group's missing indexes through the
// pipeline (select.ts), falling back to preemption when enabled → collect
// the groups that could not be fully placed, with the reasons.

import { compileAsk, type GroupAsk } from "./ask.ts";
import { indexSnapshot, isClusterIndex, jobKey, type ClusterIndex, type SchedNode } from "./cluster-index.ts";
import { adjustNode, countPlacement, createEvalContext, release, resolveOptions, type EvalContext } from "./eval-context.ts";
import type { Job } from "./jobspec/types.ts";
import { newMetrics, recordRejection } from "./metrics.ts";
import { rankersFor, score } from "./pipeline.ts";
import { assignPorts } from "./ports.ts";
import { findPreemption } from "./preempt.ts";
import { reconcile, stopOf } from "./reconcile.ts";
import { seededRng } from "./rng.ts";
import { selectNode } from "./select.ts";
import { scheduleSystem } from "./system.ts";
import { isSystemType } from "./jobspec/types.ts";
import type { FailedGroup, Placement, PlacementMetrics, Plan, ScheduleOptions, Snapshot, Stop } from "./types.ts";

export function schedule(input: Snapshot | ClusterIndex, job: Job, evalId: string, opts: ScheduleOptions = {}): Plan {
  const index = isClusterIndex(input) ? input : indexSnapshot(input);
  const rng = opts.rng ?? seededRng(evalId);
  // system and sysbatch: one allocation per eligible node, not `count` by score.
  if (isSystemType(job.type)) return scheduleSystem(index, job, evalId, rng, resolveOptions(opts));
  const existing = index.byJob.get(jobKey(job.namespace, job.id)) ?? [];
  const { stops, work } = reconcile(job, existing, index);
  const ctx = createEvalContext(index, job, rng, resolveOptions(opts), new Set(stops.map((s) => s.allocId)));
  for (const stop of stops) release(ctx, stop);

  const plan: Plan = {
    evalId,
    namespace: job.namespace,
    jobId: job.id,
    priority: job.priority,
    placements: [],
    stops,
    failedGroups: [],
    blocked: false,
  };
  for (const { group, place } of work) {
    if (place.length === 0) continue;
    const failed = placeGroup(ctx, compileAsk(job, group), place, plan);
    if (failed) plan.failedGroups.push(failed);
  }
  plan.blocked = plan.failedGroups.length > 0;
  return plan;
}

/**
 * Place `indexes` of one group. After the first failure the rest of the group
 * is not retried: nothing in this evaluation frees capacity for it except
 * preemption, which was already tried (Nomad coalesces the same way).
 */
function placeGroup(ctx: EvalContext, ask: GroupAsk, indexes: number[], plan: Plan): FailedGroup | null {
  let failed: FailedGroup | null = null;
  for (const taskGroupIndex of indexes) {
    if (failed) {
      failed.missing++;
      failed.metrics.coalescedFailures++;
      continue;
    }
    const metrics = newMetrics();
    const placement = placeOne(ctx, ask, taskGroupIndex, metrics, plan.stops);
    if (placement) plan.placements.push(placement);
    else failed = { group: ask.group, missing: 1, resources: { ...ask.resources }, metrics };
  }
  return failed;
}

function placeOne(
  ctx: EvalContext,
  ask: GroupAsk,
  taskGroupIndex: number,
  metrics: PlacementMetrics,
  stops: Stop[],
): Placement | null {
  const choice = selectNode(ctx, ask, metrics);
  let node: SchedNode | null = choice?.node ?? null;
  let nodeScore = choice?.score ?? 0;
  let preempted: string[] | undefined;
  if (!node && ctx.opts.preemption) {
    const p = findPreemption(ctx, ask);
    if (p) {
      for (const victim of p.victims) {
        ctx.stopped.add(victim.id);
        adjustNode(ctx, p.node, victim.resources, victim.ports, -1);
        stops.push(stopOf(victim, "preempted", preemptionMessage(ask, taskGroupIndex, victim.priority)));
      }
      node = p.node;
      nodeScore = score(node, ask, ctx, rankersFor(ask));
      preempted = p.victims.map((v) => v.id);
    }
  }
  if (!node) return null;
  const ports = assignPorts(ctx, node, ask);
  if (!ports) {
    recordRejection(metrics, "ports", "exhaust", "dynamic port range exhausted");
    return null;
  }
  adjustNode(ctx, node, ask.resources, ports.map((p) => p.value), 1);
  countPlacement(ctx, node, ask);
  const placement: Placement = {
    group: ask.group,
    taskGroupIndex,
    nodeId: node.view.id,
    resources: { ...ask.resources },
    ports,
    score: nodeScore,
  };
  if (preempted) placement.preempted = preempted;
  return placement;
}

function preemptionMessage(ask: GroupAsk, index: number, victimPriority: number): string {
  return `preempted (priority ${victimPriority}) to place ${ask.namespace}/${ask.jobId} ${ask.group}[${index}] (priority ${ask.priority})`;
}
