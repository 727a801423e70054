// Launches of periodic and parameterized jobs: LaunchChildJob records the
// launch and registers the child job (with its evaluation) in one entry.
// The launch is keyed, so it is decided once through the log whoever
// proposes it: a periodic launch time already recorded is refused (a new
// leader re-proposing a launch the old one committed is a no-op), and a
// dispatch with an idempotency token already recorded answers the existing
// child instead of creating another.
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { jobLaunches, jobs, jobVersions, type JobLaunchRow } from "../../store/schema-jobs.ts";
import { collectGarbage } from "./jobs-common.ts";
import type { CommandResult } from "../result.ts";
import { applyRegisterJob } from "./jobs.ts";
import { JobSchema } from "./jobs-commands.ts";

/** Launch records kept per parent and kind (older ones are deleted; periodic needs only the newest). */
export const LAUNCHES_KEPT = 200;
/**
 * Finished (dead) children kept per parent; older ones are purged with their
 * allocations and evaluations as new ones launch, so a job launched every
 * minute does not grow the state without bound (Nomad's job GC does this by age).
 */
export const DEAD_CHILDREN_KEPT = 50;

export const LaunchChildJob = z.object({
  type: z.literal("LaunchChildJob"), v: z.literal(1), at: z.number(),
  /** periodic: a scheduled launch; periodic-force: `job periodic force`; dispatch: `job dispatch`. */
  kind: z.enum(["periodic", "periodic-force", "dispatch"]),
  namespace: z.string().min(1).max(128),
  parentId: z.string().min(1).max(128),
  /** periodic: the launch time in unix seconds; dispatch: the idempotency token, or the child id. */
  key: z.string().min(1).max(256),
  job: JobSchema,
  evalId: z.string().min(1).max(256),
});

export const launchCommands = [LaunchChildJob] as const;

function applyLaunchChildJob(db: Db, index: number, cmd: z.infer<typeof LaunchChildJob>): CommandResult {
  const parent = db.select().from(jobs).where(and(eq(jobs.namespace, cmd.namespace), eq(jobs.id, cmd.parentId))).get();
  if (!parent) return { ok: false, code: "JOB_NOT_FOUND", message: `no job "${cmd.parentId}" in namespace "${cmd.namespace}"` };
  if (parent.stop) return { ok: false, code: "JOB_STOPPED", message: `job "${cmd.parentId}" is stopped` };
  const periodic = cmd.kind !== "dispatch";
  if (periodic && !parent.spec.periodic) return { ok: false, code: "NOT_PERIODIC", message: `job "${cmd.parentId}" is not periodic` };
  if (!periodic && !parent.spec.parameterized) return { ok: false, code: "NOT_PARAMETERIZED", message: `job "${cmd.parentId}" is not parameterized` };
  if (cmd.job.parentId !== cmd.parentId || cmd.job.namespace !== cmd.namespace || !cmd.job.id.startsWith(`${cmd.parentId}/`)) {
    return { ok: false, code: "INVALID_INPUT", message: "the child job must name its parent and live in its namespace" };
  }
  const kind = cmd.kind === "periodic-force" ? "periodic-force" : cmd.kind;
  const seen = db.select().from(jobLaunches)
    .where(and(eq(jobLaunches.namespace, cmd.namespace), eq(jobLaunches.jobId, cmd.parentId), eq(jobLaunches.kind, kind), eq(jobLaunches.key, cmd.key))).get();
  if (seen) {
    if (cmd.kind === "dispatch") return { ok: true, value: { childId: seen.childId, evalId: "", duplicate: true } };
    return { ok: false, code: "LAUNCH_EXISTS", message: `launch ${cmd.key} of "${cmd.parentId}" is already recorded (${seen.childId})` };
  }
  if (db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.namespace, cmd.namespace), eq(jobs.id, cmd.job.id))).get()) {
    return { ok: false, code: "LAUNCH_EXISTS", message: `job "${cmd.job.id}" already exists` };
  }
  const reg = applyRegisterJob(db, index, { type: "RegisterJob", v: 1, at: cmd.at, job: cmd.job, evalId: cmd.evalId });
  if (!reg.ok) return reg;
  db.insert(jobLaunches).values({
    namespace: cmd.namespace, jobId: cmd.parentId, kind, key: cmd.key, childId: cmd.job.id, launchedAt: cmd.at, createIndex: index,
  }).run();
  const old = db.select({ key: jobLaunches.key }).from(jobLaunches)
    .where(and(eq(jobLaunches.namespace, cmd.namespace), eq(jobLaunches.jobId, cmd.parentId), eq(jobLaunches.kind, kind)))
    .orderBy(desc(jobLaunches.createIndex)).all().slice(LAUNCHES_KEPT).map((r) => r.key);
  if (old.length) {
    db.delete(jobLaunches).where(and(eq(jobLaunches.namespace, cmd.namespace), eq(jobLaunches.jobId, cmd.parentId), eq(jobLaunches.kind, kind), inArray(jobLaunches.key, old))).run();
  }
  purgeOldChildren(db, index, cmd.namespace, cmd.parentId);
  return { ok: true, value: { childId: cmd.job.id, evalId: cmd.evalId, duplicate: false } };
}

function purgeOldChildren(db: Db, index: number, namespace: string, parentId: string): void {
  const prefix = `${parentId}/`;
  const dead = db.select({ id: jobs.id }).from(jobs)
    .where(and(eq(jobs.namespace, namespace), eq(jobs.status, "dead"), sql`substr(${jobs.id}, 1, ${prefix.length}) = ${prefix}`))
    .orderBy(asc(jobs.createIndex)).all();
  for (const { id } of dead.slice(0, Math.max(0, dead.length - DEAD_CHILDREN_KEPT))) {
    db.delete(jobs).where(and(eq(jobs.namespace, namespace), eq(jobs.id, id))).run();
    db.delete(jobVersions).where(and(eq(jobVersions.namespace, namespace), eq(jobVersions.jobId, id))).run();
    collectGarbage(db, index, namespace, id, false);
  }
}

export const launchAppliers = {
  LaunchChildJob: { tables: ["jobs", "job_versions", "evaluations", "job_launches", "allocations", "deployments"], apply: applyLaunchChildJob },
};

/** The newest launch records of a parent job, newest first. */
export function listLaunches(db: Db, namespace: string, jobId: string, kind?: string): JobLaunchRow[] {
  return db.select().from(jobLaunches)
    .where(and(eq(jobLaunches.namespace, namespace), eq(jobLaunches.jobId, jobId), kind !== undefined ? eq(jobLaunches.kind, kind) : undefined))
    .orderBy(desc(jobLaunches.createIndex)).all();
}
