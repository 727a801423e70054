// System and sysbatch jobs (Nomad's SystemScheduler): instead of `count`
// copies placed by score, each group gets exactly one allocation on every
// eligible node. Eligible: ready (not down, not draining) and passing the
// job's and the group's constraints. There is no choice of node, so no
// ranking; what remains of the pipeline is whether the node has room, and,
// when it has not, preemption of lower-priority work on that very node.
//
// - A node without an allocation of the group gets one (a node that joined
//   or became eligible is picked up by the next evaluation).
// - An allocation on a down node is lost and not replaced elsewhere; on a
//   draining node it is stopped; on a node that no longer passes the
//   constraints it is stopped.
// - sysbatch: a `complete` allocation keeps its node (the work ran there
//   once); failed, lost and stopped ones do not (the caller holds a failed
//   one back under its reschedule policy).
// - taskGroupIndex has no meaning of its own here; each placement takes the
//   lowest index no kept allocation of the group holds, so indexes stay
//   unique and compact.
//
// Pure like schedule(): same input, same plan.

import { compileAsk, type GroupAsk } from "./ask.ts";
import { isLive, jobKey, type ClusterIndex, type SchedNode } from "./cluster-index.ts";
import { adjustNode, countPlacement, createEvalContext, release, type EvalContext, type ResolvedOptions } from "./eval-context.ts";
import type { Job, TaskGroup } from "./jobspec/types.ts";
import { newMetrics } from "./metrics.ts";
import { feasible, FEASIBILITY, rankersFor, score, type CheckStage } from "./pipeline.ts";
import { assignPorts } from "./ports.ts";
import { chooseVictims } from "./preempt.ts";
import { stopOf } from "./reconcile.ts";
import type { AllocationView, FailedGroup, Plan, Rng, Stop } from "./types.ts";

/** Eligibility: what decides whether a node should run the group at all. */
const ELIGIBILITY: readonly CheckStage[] = FEASIBILITY.filter((s) => s.name === "node-status" || s.name === "constraints");
/** Room: what decides whether it can run it now (preemption may help). */
const ROOM: readonly CheckStage[] = FEASIBILITY.filter((s) => s.kind === "exhaust");

export function scheduleSystem(index: ClusterIndex, job: Job, evalId: string, rng: Rng, opts: ResolvedOptions): Plan {
  const existing = index.byJob.get(jobKey(job.namespace, job.id)) ?? [];
  const plan: Plan = {
    evalId, namespace: job.namespace, jobId: job.id, priority: job.priority,
    placements: [], stops: [], failedGroups: [], blocked: false,
  };
  const groupNames = new Set(job.groups.map((g) => g.name));
  for (const a of existing) {
    if (isLive(a) && !groupNames.has(a.group)) plan.stops.push(stopOf(a, "group-removed", `group "${a.group}" is no longer in job "${job.id}"`));
  }
  // Stops decided before the context exists (it needs to know them); eligibility
  // needs a context, so the per-node pass runs in two steps per group.
  const ctx = createEvalContext(index, job, rng, opts, new Set(plan.stops.map((s) => s.allocId)));
  for (const s of plan.stops) release(ctx, s);
  for (const group of job.groups) {
    const failed = placeGroup(ctx, job, group, existing.filter((a) => a.group === group.name), plan);
    if (failed) plan.failedGroups.push(failed);
  }
  plan.blocked = plan.failedGroups.length > 0;
  return plan;
}

function stopHere(ctx: EvalContext, plan: Plan, a: AllocationView, reason: Stop["reason"], message: string): void {
  const s = stopOf(a, reason, message);
  plan.stops.push(s);
  ctx.stopped.add(a.id);
  release(ctx, s);
}

function placeGroup(ctx: EvalContext, job: Job, group: TaskGroup, allocs: AllocationView[], plan: Plan): FailedGroup | null {
  const ask = compileAsk(job, { ...group, count: 1 });
  const keepsNode = (a: AllocationView) => isLive(a) || (job.type === "sysbatch" && a.status === "complete");
  const byNode = new Map<string, AllocationView[]>();
  for (const a of [...allocs].sort((x, y) => (x.taskGroupIndex ?? 0) - (y.taskGroupIndex ?? 0) || (x.id < y.id ? -1 : 1))) {
    if (!keepsNode(a)) continue;
    const list = byNode.get(a.nodeId);
    if (list) list.push(a);
    else byNode.set(a.nodeId, [a]);
  }
  const held = new Set<number>();
  // Allocations on nodes that left the cluster, went down, drain, or no longer qualify.
  for (const [nodeId, list] of byNode) {
    const node = ctx.index.byId.get(nodeId);
    const live = list.filter(isLive);
    const why = node ? ineligible(ctx, node, ask) : `node ${nodeId} is unknown`;
    if (why !== null) {
      const reason = !node || node.view.status === "down" ? "node-down" : node.view.status === "draining" ? "node-draining" : "node-ineligible";
      for (const a of live) stopHere(ctx, plan, a, reason, `${why}; a ${job.type} job does not run there`);
      byNode.delete(nodeId);
      continue;
    }
    // One per node: extra copies (a lowered count, a race) go.
    const keep = live[0] ?? list[0]!;
    for (const a of live) if (a !== keep) stopHere(ctx, plan, a, "count-lowered", `a ${job.type} job runs one allocation per node`);
    if (keep.taskGroupIndex !== undefined) held.add(keep.taskGroupIndex);
  }
  if (group.count === 0) {
    for (const list of byNode.values()) for (const a of list) if (isLive(a) && !ctx.stopped.has(a.id)) stopHere(ctx, plan, a, "count-lowered", `count of group "${group.name}" is 0`);
    return null;
  }
  let nextIndex = 0;
  let failed: FailedGroup | null = null;
  for (const node of ctx.index.nodes) {
    if (byNode.has(node.view.id)) continue;
    if (ineligible(ctx, node, ask) !== null) continue;
    while (held.has(nextIndex)) nextIndex++;
    const metrics = newMetrics();
    metrics.nodesEvaluated = 1;
    if (!place(ctx, node, ask, nextIndex, plan)) {
      feasible(node, ask, ctx, metrics, ROOM);
      if (failed) {
        failed.missing++;
        for (const [k, v] of Object.entries(metrics.byCheck)) failed.metrics.byCheck[k] = (failed.metrics.byCheck[k] ?? 0) + v;
        for (const [k, v] of Object.entries(metrics.reasons)) failed.metrics.reasons[k] = (failed.metrics.reasons[k] ?? 0) + v;
        failed.metrics.nodesEvaluated++;
        failed.metrics.nodesExhausted += metrics.nodesExhausted;
      } else failed = { group: group.name, missing: 1, resources: { ...ask.resources }, metrics };
      continue;
    }
    held.add(nextIndex);
  }
  return failed;
}

/** null when the node should run the group; otherwise why not. */
function ineligible(ctx: EvalContext, node: SchedNode, ask: GroupAsk): string | null {
  for (const stage of ELIGIBILITY) {
    const verdict = stage.check(node, ask, ctx);
    if (verdict !== true) return `node ${node.view.name}: ${verdict}`;
  }
  return null;
}

/** Place one allocation on `node`, evicting lower-priority work there if that is what it takes. */
function place(ctx: EvalContext, node: SchedNode, ask: GroupAsk, taskGroupIndex: number, plan: Plan): boolean {
  let preempted: string[] | undefined;
  if (!feasible(node, ask, ctx, null, ROOM)) {
    if (!ctx.opts.preemption) return false;
    const victims = chooseVictims(ctx, node, ask, ask.priority - ctx.opts.preemptionPriorityDelta);
    if (!victims) return false;
    for (const v of victims) adjustNode(ctx, node, v.resources, v.ports, -1);
    if (!feasible(node, ask, ctx, null, ROOM)) {
      for (const v of victims) adjustNode(ctx, node, v.resources, v.ports, 1);
      return false;
    }
    for (const v of victims) {
      ctx.stopped.add(v.id);
      plan.stops.push(stopOf(v, "preempted", `preempted (priority ${v.priority}) to place ${ask.namespace}/${ask.jobId} ${ask.group} on node ${node.view.name} (${ctx.job.type} job, priority ${ask.priority})`));
    }
    preempted = victims.map((v) => v.id);
  }
  const ports = assignPorts(ctx, node, ask);
  if (!ports) return false;
  adjustNode(ctx, node, ask.resources, ports.map((p) => p.value), 1);
  countPlacement(ctx, node, ask);
  plan.placements.push({
    group: ask.group, taskGroupIndex, nodeId: node.view.id, resources: { ...ask.resources }, ports,
    score: score(node, ask, ctx, rankersFor(ask)),
    ...(preempted ? { preempted } : {}),
  });
  return true;
}
