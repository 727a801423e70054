// Operator actions on a deployment (Nomad's /v1/deployment/promote and
// /fail): PromoteDeployment and FailDeployment. Each creates the evaluation
// that carries the decision out in the same entry, so a promotion is never
// committed without the rollout continuing. The canary rules themselves are
// core/cluster/scheduling/deployment-canary.ts.
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { allocations, deployments, evaluations, jobs, jobVersions, type AllocRow, type DeploymentGroup, type DeploymentRow } from "../../store/schema-jobs.ts";
import type { CommandOf } from "../commands.ts";
import type { CommandResult } from "../result.ts";
import { holdsResources } from "./jobs-common.ts";
import { applyRegisterJob } from "./jobs.ts";

const id = z.string().min(1).max(256);
const name = z.string().min(1).max(128);

/** Promote the canaries of a running deployment: all canary groups, or the ones named. */
export const PromoteDeployment = z.object({
  type: z.literal("PromoteDeployment"), v: z.literal(1), at: z.number(),
  deploymentId: id,
  /** Absent: every group with canaries (Nomad's All). */
  groups: z.array(name).min(1).max(100).optional(),
  evalId: id,
});

/** Mark a running deployment failed (its canaries stop; auto_revert rolls the job back). */
export const FailDeployment = z.object({
  type: z.literal("FailDeployment"), v: z.literal(1), at: z.number(),
  deploymentId: id,
  evalId: id,
});

export const deploymentCommands = [PromoteDeployment, FailDeployment] as const;

/**
 * Why a group cannot be promoted yet, or null when it can: every canary it
 * wants is placed, alive and healthy (Nomad refuses the same way). Pure, so
 * the watcher's auto_promote asks exactly what the applier checks.
 */
export function unpromotable(group: string, g: DeploymentGroup, allocOf: (id: string) => Pick<AllocRow, "health" | "desiredStatus" | "clientStatus"> | undefined): string | null {
  const desired = g.desiredCanaries ?? 0;
  const live = (g.placedCanaries ?? []).map(allocOf).filter((a): a is NonNullable<typeof a> => a !== undefined && holdsResources(a));
  const healthy = live.filter((a) => a.health === "healthy").length;
  if (healthy < desired) return `task group "${group}" has ${healthy}/${desired} healthy canaries; promote once all are healthy`;
  return null;
}

/** Groups a promotion would promote: the named ones, else every unpromoted group with canaries. */
export function promotionGroups(d: Pick<DeploymentRow, "groups">, named: readonly string[] | undefined): { groups: string[] } | { error: string } {
  const withCanaries = Object.entries(d.groups).filter(([, g]) => (g.desiredCanaries ?? 0) > 0);
  if (named) {
    for (const n of named) {
      if (!d.groups[n]) return { error: `deployment has no task group "${n}"` };
      if ((d.groups[n]!.desiredCanaries ?? 0) === 0) return { error: `task group "${n}" has no canaries to promote` };
    }
    return { groups: [...new Set(named)] };
  }
  if (withCanaries.length === 0) return { error: "deployment has no canaries to promote" };
  return { groups: withCanaries.filter(([, g]) => !g.promoted).map(([n]) => n) };
}

function running(db: Db, deploymentId: string): DeploymentRow | CommandResult {
  const d = db.select().from(deployments).where(eq(deployments.id, deploymentId)).get();
  if (!d) return { ok: false, code: "DEPLOYMENT_NOT_FOUND", message: `no deployment ${deploymentId}` };
  if (d.status !== "running") return { ok: false, code: "DEPLOYMENT_NOT_RUNNING", message: `deployment ${deploymentId} is ${d.status}, not running` };
  return d;
}

function pendingEval(db: Db, index: number, at: number, d: DeploymentRow, evalId: string, description: string): CommandResult | null {
  if (db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.id, evalId)).get()) {
    return { ok: false, code: "EVAL_EXISTS", message: `evaluation ${evalId} already exists` };
  }
  const job = db.select({ priority: jobs.priority }).from(jobs).where(and(eq(jobs.namespace, d.namespace), eq(jobs.id, d.jobId))).get();
  db.insert(evaluations).values({
    id: evalId, namespace: d.namespace, jobId: d.jobId, priority: job?.priority ?? 50, triggeredBy: "deployment-watcher", nodeId: "",
    status: "pending", statusDescription: description, failedGroups: [], waitUntil: 0,
    createdAt: at, modifiedAt: at, createIndex: index, modifyIndex: index,
  }).run();
  return null;
}

function applyPromoteDeployment(db: Db, index: number, cmd: z.infer<typeof PromoteDeployment>): CommandResult {
  const d = running(db, cmd.deploymentId);
  if (!("id" in d)) return d;
  const chosen = promotionGroups(d, cmd.groups);
  if ("error" in chosen) return { ok: false, code: "INVALID_INPUT", message: chosen.error };
  const allocOf = (allocId: string) => db.select().from(allocations).where(eq(allocations.id, allocId)).get();
  for (const g of chosen.groups) {
    const why = unpromotable(g, d.groups[g]!, allocOf);
    if (why) return { ok: false, code: "CANARIES_NOT_HEALTHY", message: why };
  }
  const failed = pendingEval(db, index, cmd.at, d, cmd.evalId, `promoting ${chosen.groups.join(", ")}`);
  if (failed) return failed;
  const groups = { ...d.groups };
  for (const g of chosen.groups) groups[g] = { ...groups[g]!, promoted: true };
  db.update(deployments).set({ groups, statusDescription: "promoted", modifyIndex: index }).where(eq(deployments.id, d.id)).run();
  return { ok: true, value: { deploymentId: d.id, promoted: chosen.groups, evalId: cmd.evalId } };
}

/** Fails the deployment; with auto_revert and a stable version, re-registers that version (the leader's watcher does the same on an unhealthy allocation). */
function applyFailDeployment(db: Db, index: number, cmd: z.infer<typeof FailDeployment>): CommandResult {
  const d = running(db, cmd.deploymentId);
  if (!("id" in d)) return d;
  if (db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.id, cmd.evalId)).get()) {
    return { ok: false, code: "EVAL_EXISTS", message: `evaluation ${cmd.evalId} already exists` };
  }
  db.update(deployments).set({ status: "failed", statusDescription: "deployment marked as failed", modifyIndex: index }).where(eq(deployments.id, d.id)).run();
  const job = db.select().from(jobs).where(and(eq(jobs.namespace, d.namespace), eq(jobs.id, d.jobId))).get();
  const wantsRevert = Object.values(d.groups).some((g) => g.autoRevert);
  if (job && wantsRevert && job.stableVersion !== null && job.stableVersion !== d.jobVersion && job.version === d.jobVersion) {
    const stable = db.select().from(jobVersions)
      .where(and(eq(jobVersions.namespace, d.namespace), eq(jobVersions.jobId, d.jobId), eq(jobVersions.version, job.stableVersion))).get();
    if (stable) {
      const r = applyRegisterJob(db, index, { type: "RegisterJob", v: 1, at: cmd.at, job: stable.spec, evalId: cmd.evalId, revertedFrom: d.jobVersion });
      if (!r.ok) return r;
      return { ok: true, value: { deploymentId: d.id, evalId: cmd.evalId, revertedTo: job.stableVersion } };
    }
  }
  const failed = pendingEval(db, index, cmd.at, d, cmd.evalId, "deployment marked as failed");
  if (failed) return failed;
  return { ok: true, value: { deploymentId: d.id, evalId: cmd.evalId } };
}

const TABLES = ["deployments", "evaluations", "jobs", "job_versions", "allocations"] as const;

export const deploymentAppliers = {
  PromoteDeployment: { tables: TABLES, apply: applyPromoteDeployment },
  FailDeployment: { tables: TABLES, apply: applyFailDeployment },
};

type Mapped = { topic: "job"; type: string; payload: Record<string, unknown> };

export const deploymentEventMappers = {
  PromoteDeployment: (c: CommandOf<"PromoteDeployment">): Mapped[] => [{
    topic: "job", type: "DeploymentPromoted", payload: { deploymentId: c.deploymentId, groups: c.groups ?? null, evalId: c.evalId },
  }],
  FailDeployment: (c: CommandOf<"FailDeployment">): Mapped[] => [{
    topic: "job", type: "DeploymentStatusChanged", payload: { deploymentId: c.deploymentId, status: "failed", description: "deployment marked as failed" },
  }],
};
