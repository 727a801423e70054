// CommitPlan: the outcome of one evaluation, applied atomically.
//
// Plan verification (Nomad's plan applier, nomad/plan_apply.go): the leader
// computed the plan from a snapshot that may be stale by the time the entry
// is applied (an agent's report, another plan, a drain). Before anything is
// written, every node that receives a placement is checked again against
// the state at this index: it exists, is ready, is not draining, and its
// live allocations (minus the ones this plan stops) plus the plan's
// placements fit its capacity without a port clash. Any failure refuses the
// whole plan with the reason (PLAN_REJECTED); the leader re-plans from fresh
// state. All or nothing keeps the rule simple; Nomad commits partial plans.
import { and, eq } from "drizzle-orm";
import type { z } from "zod";
import type { Db } from "../../store/db.ts";
import { allocations, deployments, type AllocRow } from "../../store/schema-jobs.ts";
import type { Job } from "../../scheduler/jobspec/types.ts";
import type { FailedGroup } from "../../scheduler/types.ts";
import type { CommandResult } from "../result.ts";
import type { CommitPlan, PlanPlacement } from "./jobs-commands.ts";
import { applyInPlace } from "./plan-inplace.ts";
import { collectGarbage, isTerminalClient, nodeCapacity, refreshJobStatus } from "./jobs-common.ts";
import {
  allocIdExists, drainOfNode, evalStatusById, finishEvalOfPlan, insertAllocation, jobById, nodeForVerify,
} from "./jobs-prepared.ts";
import { liveUsageRows } from "./node-usage.ts";
import { DeploymentCounts } from "./deployment-counts.ts";

type Cmd = z.infer<typeof CommitPlan>;

const reject = (message: string): CommandResult => ({ ok: false, code: "PLAN_REJECTED", message });

/** Why the plan's placements do not fit the state as it is now, or null when they do. */
export function verifyPlacements(db: Db, placements: readonly PlanPlacement[], stopping: ReadonlySet<string>): string | null {
  const byNode = new Map<string, PlanPlacement[]>();
  for (const p of placements) {
    const list = byNode.get(p.nodeId);
    if (list) list.push(p);
    else byNode.set(p.nodeId, [p]);
  }
  for (const [nodeId, list] of byNode) {
    const node = nodeForVerify(db).get({ id: nodeId });
    if (!node) return `node ${nodeId} no longer exists`;
    if (node.status !== "ready") return `node ${node.name} is ${node.status}`;
    if (drainOfNode(db).get({ nodeId })) return `node ${node.name} is draining`;
    const cap = nodeCapacity(node);
    let cpu = 0;
    let mem = 0;
    const ports = new Set<number>();
    // Kept between the entries that change the node (node-usage.ts): the same rows as a fresh read.
    for (const a of liveUsageRows(db, nodeId)) {
      if (stopping.has(a.id)) continue;
      cpu += a.resources.cpuMhz;
      mem += a.resources.memoryMb;
      for (const p of a.ports) ports.add(p.value);
    }
    for (const p of list) {
      cpu += p.resources.cpuMhz;
      mem += p.resources.memoryMb;
      if (cpu > cap.cpuMhz) return `node ${node.name} has no room: cpu ${cpu} MHz > ${cap.cpuMhz} MHz`;
      if (mem > cap.memoryMb) return `node ${node.name} has no room: memory ${mem} MB > ${cap.memoryMb} MB`;
      for (const port of p.ports) {
        if (ports.has(port.value)) return `node ${node.name}: port ${port.value} is already in use`;
        ports.add(port.value);
      }
    }
  }
  return null;
}

/** Refusals that do not depend on capacity: unknown or finished evaluation, stale job version, duplicate ids. */
function precheck(db: Db, cmd: Cmd, job: { version: number; spec: Job } | undefined): string | null {
  const ev = evalStatusById(db).get({ id: cmd.evalId });
  if (!ev) return `evaluation ${cmd.evalId} does not exist`;
  if (ev.status === "complete" || ev.status === "failed" || ev.status === "canceled") return `evaluation ${cmd.evalId} is already ${ev.status}`;
  if (cmd.placements.length > 0 || (cmd.inPlace?.length ?? 0) > 0) {
    if (!job) return `job ${cmd.namespace}/${cmd.jobId} no longer exists`;
    if (job.version !== cmd.jobVersion) return `job ${cmd.jobId} changed (version ${job.version}, plan for ${cmd.jobVersion})`;
  }
  const ids = new Set<string>();
  for (const p of cmd.placements) {
    if (ids.has(p.id) || allocIdExists(db).get({ id: p.id })) return `allocation id ${p.id} is taken`;
    ids.add(p.id);
    if (job && !job.spec.groups.some((g) => g.name === p.group)) return `job ${cmd.jobId} has no group ${p.group}`;
  }
  return null;
}

export function applyCommitPlan(db: Db, index: number, cmd: Cmd): CommandResult {
  const jobRow = jobById(db).get({ namespace: cmd.namespace, id: cmd.jobId });
  const pre = precheck(db, cmd, jobRow);
  if (pre) return reject(pre);
  const stopping = new Set(cmd.stops.map((s) => s.allocId));
  const misfit = verifyPlacements(db, cmd.placements, stopping);
  if (misfit) return reject(misfit);

  let stopped = 0;
  for (const s of cmd.stops) {
    const a = db.select({ client: allocations.clientStatus, desired: allocations.desiredStatus }).from(allocations).where(eq(allocations.id, s.allocId)).get();
    if (!a) continue; // garbage-collected meanwhile: nothing to stop
    const lost = s.clientStatus === "lost" && !isTerminalClient(a.client);
    db.update(allocations).set({
      desiredStatus: "stop", desiredDescription: s.description,
      ...(lost ? { clientStatus: "lost" as const, clientDescription: s.description } : {}),
      modifiedAt: cmd.at, modifyIndex: index,
    }).where(eq(allocations.id, s.allocId)).run();
    stopped++;
  }
  if (cmd.inPlace?.length && jobRow) applyInPlace(db, index, cmd.at, cmd.inPlace, jobRow);
  if (cmd.deployment && jobRow) openDeployment(db, index, cmd, jobRow.version);
  for (const p of cmd.placements) insertPlacement(db, index, cmd, p, jobRow!);
  countPlacedInDeployments(db, index, cmd.placements);
  finishEvalOfPlan(db).run({
    status: cmd.evalStatus, description: cmd.evalDescription, failedGroups: cmd.failedGroups as FailedGroup[], at: cmd.at, index, id: cmd.evalId,
  });
  refreshJobStatus(db, index, cmd.namespace, cmd.jobId);
  collectGarbage(db, index, cmd.namespace, cmd.jobId, jobRow !== undefined);
  return { ok: true, value: { placed: cmd.placements.length, stopped } };
}

function openDeployment(db: Db, index: number, cmd: Cmd, version: number): void {
  const d = cmd.deployment!;
  // A newer version supersedes any rollout still running.
  db.update(deployments).set({ status: "cancelled", statusDescription: `superseded by version ${version}`, modifyIndex: index })
    .where(and(eq(deployments.namespace, cmd.namespace), eq(deployments.jobId, cmd.jobId), eq(deployments.status, "running"))).run();
  const groups = Object.fromEntries(Object.entries(d.groups).map(([g, v]) => [g, {
    desired: v.desired, placed: 0, healthy: 0, unhealthy: 0, autoRevert: v.autoRevert,
    ...(v.canaries ? { desiredCanaries: v.canaries, placedCanaries: [], promoted: false, autoPromote: v.autoPromote ?? false } : {}),
  }]));
  db.insert(deployments).values({
    id: d.id, namespace: cmd.namespace, jobId: cmd.jobId, jobVersion: version, status: "running", statusDescription: "",
    groups, createdAt: cmd.at, createIndex: index, modifyIndex: index,
  }).run();
}

function insertPlacement(db: Db, index: number, cmd: Cmd, p: PlanPlacement, job: { version: number; type: string; priority: number; spec: Job }): void {
  const group = job.spec.groups.find((g) => g.name === p.group)!;
  const row: AllocRow = {
    id: p.id, namespace: cmd.namespace, jobId: cmd.jobId, jobVersion: job.version, jobType: job.type,
    groupName: p.group, taskGroupIndex: p.taskGroupIndex, groupHash: p.groupHash, groupSpec: group,
    nodeId: p.nodeId, evalId: cmd.evalId, priority: job.priority, resources: p.resources, ports: p.ports,
    desiredStatus: "run", desiredDescription: "", clientStatus: "pending", clientDescription: "", taskStates: {},
    health: "", deploymentId: p.deploymentId, previousAlloc: p.previousAlloc, reschedules: p.reschedules,
    createdAt: cmd.at, modifiedAt: cmd.at, createIndex: index, modifyIndex: index,
  };
  insertAllocation(db).run(row);
}

/** Each placement of a rollout counts in its deployment's group: placed, and the canary's id (one write per deployment). */
function countPlacedInDeployments(db: Db, index: number, placements: readonly PlanPlacement[]): void {
  const counts = new DeploymentCounts(db);
  for (const p of placements) {
    if (!p.deploymentId) continue;
    counts.count(p.deploymentId, p.group, (g) => {
      const placedCanaries = p.canary ? [...(g.placedCanaries ?? []), p.id] : g.placedCanaries;
      return { ...g, placed: g.placed + 1, ...(placedCanaries ? { placedCanaries } : {}) };
    });
  }
  counts.flush(index);
}
