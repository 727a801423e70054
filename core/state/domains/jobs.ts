// Jobs, evaluations, deployments and drains: appliers. Commands are in
// jobs-commands.ts, plan commits in plan.ts, agent status reports in
// alloc-status.ts, reads in jobs-read.ts. Appliers are pure functions of
// (db, index, command): ids and times come in the command.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { z } from "zod";
import type { Db } from "../../store/db.ts";
import { nodes } from "../../store/schema.ts";
import { deployments, evaluations, jobs, jobVersions, nodeDrains } from "../../store/schema-jobs.ts";
import type { CommandResult } from "../result.ts";
import {
  DeregisterJob, DrainNode, JOB_STATE_LIMITS, RegisterJob, UpdateDeployment, UpdateEvaluation, jobCommands, type EvalUpdate,
} from "./jobs-commands.ts";
import { refreshJobStatus } from "./jobs-common.ts";
import { stableJson } from "../../stable-json.ts";
import { applyCommitPlan } from "./plan.ts";
import { registerRefusal } from "./job-guards.ts";
import { applyUpdateAllocStatus } from "./alloc-status.ts";
import { DeploymentCounts } from "./deployment-counts.ts";
import { allocHealthFields, setAllocHealth } from "./jobs-prepared.ts";

export { jobCommands };

/** The SQL condition selecting one job row (not the in-memory map key: core/scheduler/cluster-index.ts jobKey). */
const whereJob = (ns: string, id: string) => and(eq(jobs.namespace, ns), eq(jobs.id, id));

function evalExists(db: Db, id: string): boolean {
  return db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.id, id)).get() !== undefined;
}

function insertEval(db: Db, index: number, at: number, e: EvalUpdate): void {
  db.insert(evaluations).values({
    id: e.id, namespace: e.namespace, jobId: e.jobId, priority: e.priority, triggeredBy: e.triggeredBy, nodeId: e.nodeId,
    status: e.status, statusDescription: e.description, failedGroups: [], waitUntil: e.waitUntil,
    createdAt: at, modifiedAt: at, createIndex: index, modifyIndex: index,
  }).run();
}

export function applyRegisterJob(db: Db, index: number, cmd: z.infer<typeof RegisterJob>): CommandResult {
  const job = cmd.job;
  if (evalExists(db, cmd.evalId)) return { ok: false, code: "EVAL_EXISTS", message: `evaluation ${cmd.evalId} already exists` };
  const existing = db.select().from(jobs).where(whereJob(job.namespace, job.id)).get();
  const refused = registerRefusal(job.id, existing, cmd);
  if (refused) return refused;
  const same = existing !== undefined && stableJson(existing.spec) === stableJson(job);
  const version = !existing ? 0 : same ? existing.version : existing.version + 1;
  const row = {
    namespace: job.namespace, id: job.id, type: job.type, priority: job.priority, version,
    status: existing?.status ?? "pending", stop: false, spec: job,
    stableVersion: existing?.stableVersion ?? null,
    submitIndex: same ? existing!.submitIndex : index, submittedAt: cmd.at,
    createIndex: existing?.createIndex ?? index, modifyIndex: index,
  };
  if (existing) db.update(jobs).set(row).where(whereJob(job.namespace, job.id)).run();
  else db.insert(jobs).values(row).run();
  if (!same) {
    db.insert(jobVersions).values({ namespace: job.namespace, jobId: job.id, version, spec: job, submitIndex: index, submittedAt: cmd.at })
      .onConflictDoUpdate({ target: [jobVersions.namespace, jobVersions.jobId, jobVersions.version], set: { spec: job, submitIndex: index, submittedAt: cmd.at } }).run();
    const old = db.select({ v: jobVersions.version }).from(jobVersions)
      .where(and(eq(jobVersions.namespace, job.namespace), eq(jobVersions.jobId, job.id))).orderBy(asc(jobVersions.version)).all();
    const drop = old.slice(0, Math.max(0, old.length - (cmd.keepVersions ?? JOB_STATE_LIMITS.versions))).map((r) => r.v);
    if (drop.length) {
      db.delete(jobVersions).where(and(eq(jobVersions.namespace, job.namespace), eq(jobVersions.jobId, job.id), inArray(jobVersions.version, drop))).run();
    }
  }
  const triggeredBy = cmd.revertedFrom !== undefined ? "rollback" : cmd.revert ? "job-revert" : "job-register";
  const description = cmd.revertedFrom !== undefined ? `reverting version ${cmd.revertedFrom} to ${job.id}'s last stable version`
    : cmd.revert ? `reverting to version ${cmd.revert.toVersion}` : "";
  insertEval(db, index, cmd.at, {
    id: cmd.evalId, namespace: job.namespace, jobId: job.id, priority: job.priority, triggeredBy, nodeId: "",
    status: "pending", description, waitUntil: 0,
  });
  return { ok: true, value: { version, evalId: cmd.evalId, changed: !same } };
}

function applyDeregisterJob(db: Db, index: number, cmd: z.infer<typeof DeregisterJob>): CommandResult {
  const existing = db.select().from(jobs).where(whereJob(cmd.namespace, cmd.jobId)).get();
  if (!existing) return { ok: false, code: "JOB_NOT_FOUND", message: `no job ${cmd.namespace}/${cmd.jobId}` };
  if (evalExists(db, cmd.evalId)) return { ok: false, code: "EVAL_EXISTS", message: `evaluation ${cmd.evalId} already exists` };
  if (cmd.purge) {
    db.delete(jobs).where(whereJob(cmd.namespace, cmd.jobId)).run();
    db.delete(jobVersions).where(and(eq(jobVersions.namespace, cmd.namespace), eq(jobVersions.jobId, cmd.jobId))).run();
  } else {
    // v2: a stop is a change of the job a --check-index must see (as Nomad's JobModifyIndex); v1 as before.
    db.update(jobs).set({ stop: true, ...(cmd.v === 2 ? { submitIndex: index } : {}), modifyIndex: index }).where(whereJob(cmd.namespace, cmd.jobId)).run();
    refreshJobStatus(db, index, cmd.namespace, cmd.jobId);
  }
  // Running deployments end with the job.
  db.update(deployments).set({ status: "cancelled", statusDescription: "job stopped", modifyIndex: index })
    .where(and(eq(deployments.namespace, cmd.namespace), eq(deployments.jobId, cmd.jobId), eq(deployments.status, "running"))).run();
  insertEval(db, index, cmd.at, {
    id: cmd.evalId, namespace: cmd.namespace, jobId: cmd.jobId, priority: existing.priority, triggeredBy: "job-deregister",
    nodeId: "", status: "pending", description: "", waitUntil: 0,
  });
  return { ok: true, value: { evalId: cmd.evalId } };
}

function applyUpdateEvaluation(db: Db, index: number, cmd: z.infer<typeof UpdateEvaluation>): CommandResult {
  let created = 0;
  for (const e of cmd.evals) {
    const existing = db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.id, e.id)).get();
    if (!existing) {
      insertEval(db, index, cmd.at, e);
      created++;
      continue;
    }
    db.update(evaluations)
      .set({ status: e.status, statusDescription: e.description, waitUntil: e.waitUntil, modifiedAt: cmd.at, modifyIndex: index })
      .where(eq(evaluations.id, e.id)).run();
  }
  return { ok: true, value: { created, updated: cmd.evals.length - created } };
}

/** Health verdicts of allocations, then deployment outcomes; a successful one marks its job version stable. */
function applyUpdateDeployment(db: Db, index: number, cmd: z.infer<typeof UpdateDeployment>): CommandResult {
  let changed = 0;
  const counts = new DeploymentCounts(db);
  for (const h of cmd.health) {
    const a = allocHealthFields(db).get({ id: h.allocId });
    if (!a || a.health !== "") continue; // a verdict is final
    setAllocHealth(db).run({ health: h.healthy ? "healthy" : "unhealthy", at: cmd.at, index, id: h.allocId });
    changed++;
    if (!a.deploymentId) continue;
    counts.count(a.deploymentId, a.group, (g) => ({ ...g, healthy: g.healthy + (h.healthy ? 1 : 0), unhealthy: g.unhealthy + (h.healthy ? 0 : 1) }));
  }
  // Written before the outcomes below, which read and update the same rows.
  counts.flush(index);
  for (const u of cmd.deployments) {
    const d = db.select().from(deployments).where(eq(deployments.id, u.id)).get();
    if (!d || d.status !== "running") continue; // only a running deployment changes its outcome
    db.update(deployments).set({ status: u.status, statusDescription: u.description, modifyIndex: index }).where(eq(deployments.id, u.id)).run();
    changed++;
    if (u.status === "successful") {
      db.update(jobs).set({ stableVersion: d.jobVersion, modifyIndex: index })
        .where(and(whereJob(d.namespace, d.jobId), sql`${jobs.version} >= ${d.jobVersion}`)).run();
    }
  }
  return { ok: true, value: { changed } };
}

function applyDrainNode(db: Db, index: number, cmd: z.infer<typeof DrainNode>): CommandResult {
  const node = db.select({ id: nodes.id }).from(nodes).where(eq(nodes.id, cmd.nodeId)).get();
  if (!node) return { ok: false, code: "NODE_NOT_FOUND", message: `no node ${cmd.nodeId}` };
  const existing = db.select().from(nodeDrains).where(eq(nodeDrains.nodeId, cmd.nodeId)).get();
  if (!cmd.enable) {
    if (existing) db.delete(nodeDrains).where(eq(nodeDrains.nodeId, cmd.nodeId)).run();
    return { ok: true, value: { changed: existing !== undefined } };
  }
  const row = {
    nodeId: cmd.nodeId, startedAt: existing?.startedAt ?? cmd.at, deadlineAt: cmd.deadlineMs > 0 ? cmd.at + cmd.deadlineMs : 0,
    createIndex: existing?.createIndex ?? index, modifyIndex: index,
  };
  db.insert(nodeDrains).values(row).onConflictDoUpdate({ target: nodeDrains.nodeId, set: { deadlineAt: row.deadlineAt, modifyIndex: index } }).run();
  return { ok: true, value: { changed: true } };
}

const ALLOC_TABLES = ["allocations", "evaluations", "jobs", "deployments"] as const;

export const jobAppliers = {
  RegisterJob: { tables: ["jobs", "job_versions", "evaluations"], apply: applyRegisterJob },
  DeregisterJob: { tables: ["jobs", "job_versions", "evaluations", "deployments"], apply: applyDeregisterJob },
  CommitPlan: { tables: ALLOC_TABLES, apply: applyCommitPlan },
  UpdateAllocStatus: { tables: ALLOC_TABLES, apply: applyUpdateAllocStatus },
  UpdateEvaluation: { tables: ["evaluations"], apply: applyUpdateEvaluation },
  UpdateDeployment: { tables: ["allocations", "deployments", "jobs"], apply: applyUpdateDeployment },
  DrainNode: { tables: ["node_drains"], apply: applyDrainNode },
};
