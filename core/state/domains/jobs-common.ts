// Helpers the job appliers share: live/terminal rules, a job's status, node
// capacity as the scheduler counts it, and the per-job garbage collection
// that keeps the state bounded. All pure functions of the database.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import type { NodeRow } from "../../store/schema.ts";
import { allocations, deployments, evaluations, jobs, type AllocRow, type ClientStatus } from "../../store/schema-jobs.ts";
import type { Resources } from "../../scheduler/types.ts";
import { runsToCompletion } from "../../scheduler/jobspec/types.ts";
import { JOB_STATE_LIMITS } from "./jobs-commands.ts";
import { stableJson } from "../../stable-json.ts";
import { deleteAllocations } from "./alloc-delete.ts";

export const MIB = 1024 * 1024;
const TERMINAL_CLIENT: ReadonlySet<string> = new Set(["complete", "failed", "lost"]);

export function isTerminalClient(s: ClientStatus | string): boolean {
  return TERMINAL_CLIENT.has(s);
}

/**
 * Holds resources on its node: wanted running and not finished. A stop
 * frees the resources at once (as in Nomad), even while the agent is still
 * in the task's kill grace period.
 */
export function holdsResources(a: Pick<AllocRow, "desiredStatus" | "clientStatus">): boolean {
  return a.desiredStatus === "run" && !isTerminalClient(a.clientStatus);
}

/** What the scheduler may place on a node: fingerprinted capacity minus the reservation, memory in whole MiB. */
export function nodeCapacity(n: Pick<NodeRow, "resources" | "reserved">): Resources {
  return {
    cpuMhz: Math.max(0, Math.floor(n.resources.cpuMhz - n.reserved.cpuMhz)),
    memoryMb: Math.max(0, Math.floor((n.resources.memoryBytes - n.reserved.memoryBytes) / MIB)),
  };
}

/** Allocations on a node that hold resources. */
export function liveAllocsOnNode(db: Db, nodeId: string): AllocRow[] {
  return db.select().from(allocations)
    .where(and(eq(allocations.nodeId, nodeId), eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"])))
    .all();
}

/** Recomputes a job's status; moves its modify index only when the status changes. */
export function refreshJobStatus(db: Db, index: number, namespace: string, jobId: string): void {
  const job = db.select({ status: jobs.status, stop: jobs.stop, type: jobs.type }).from(jobs)
    .where(and(eq(jobs.namespace, namespace), eq(jobs.id, jobId))).get();
  if (!job) return;
  const rows = db.select({ d: allocations.desiredStatus, c: allocations.clientStatus }).from(allocations)
    .where(and(eq(allocations.namespace, namespace), eq(allocations.jobId, jobId))).all();
  const live = rows.some((r) => r.d === "run" && !isTerminalClient(r.c));
  let status: string;
  if (job.stop) status = live ? "running" : "dead";
  else if (live) status = "running";
  else if (runsToCompletion(job.type) && rows.length > 0 && rows.every((r) => r.c === "complete" || r.d === "stop")) status = "dead";
  else status = "pending";
  if (status !== job.status) {
    db.update(jobs).set({ status, modifyIndex: index }).where(and(eq(jobs.namespace, namespace), eq(jobs.id, jobId))).run();
  }
}

/**
 * Bounds what a job leaves behind: the newest terminal allocations, finished
 * evaluations and deployments are kept, older ones deleted. With the job
 * purged, every terminal allocation goes. Deterministic: ordered by index.
 */
export function collectGarbage(db: Db, index: number, namespace: string, jobId: string, jobExists: boolean): void {
  const terminal = db.select({ id: allocations.id }).from(allocations)
    .where(and(eq(allocations.namespace, namespace), eq(allocations.jobId, jobId),
      sql`(${allocations.desiredStatus} = 'stop' OR ${allocations.clientStatus} IN ('complete','failed','lost'))`,
      // A stopped allocation still running on its agent stays until it reports.
      sql`${allocations.clientStatus} NOT IN ('pending','running')`))
    .orderBy(asc(allocations.createIndex)).all();
  const keepAllocs = jobExists ? JOB_STATE_LIMITS.terminalAllocs : 0;
  const dropAllocs = terminal.slice(0, Math.max(0, terminal.length - keepAllocs)).map((r) => r.id);
  deleteAllocations(db, index, dropAllocs);

  const done = db.select({ id: evaluations.id }).from(evaluations)
    .where(and(eq(evaluations.namespace, namespace), eq(evaluations.jobId, jobId), inArray(evaluations.status, ["complete", "failed", "canceled"])))
    .orderBy(asc(evaluations.createIndex)).all();
  const dropEvals = done.slice(0, Math.max(0, done.length - JOB_STATE_LIMITS.finishedEvals)).map((r) => r.id);
  if (dropEvals.length) db.delete(evaluations).where(inArray(evaluations.id, dropEvals)).run();

  const finished = db.select({ id: deployments.id }).from(deployments)
    .where(and(eq(deployments.namespace, namespace), eq(deployments.jobId, jobId), sql`${deployments.status} != 'running'`))
    .orderBy(asc(deployments.createIndex)).all();
  const dropDeps = finished.slice(0, Math.max(0, finished.length - JOB_STATE_LIMITS.finishedDeployments)).map((r) => r.id);
  if (dropDeps.length) db.delete(deployments).where(inArray(deployments.id, dropDeps)).run();
}

