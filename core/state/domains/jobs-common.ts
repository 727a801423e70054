// Helpers the job appliers share: live/terminal rules, a job's status, node
// capacity as the scheduler counts it, and the per-job garbage collection
// that keeps the state bounded. All pure functions of the database.
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import type { NodeRow } from "../../store/schema.ts";
import { allocations, deployments, evaluations, type AllocRow, type ClientStatus } from "../../store/schema-jobs.ts";
import type { Resources } from "../../scheduler/types.ts";
import { runsToCompletion } from "../../scheduler/jobspec/types.ts";
import { JOB_STATE_LIMITS } from "./jobs-commands.ts";
import { stableJson } from "../../stable-json.ts";
import { deleteAllocations } from "./alloc-delete.ts";
import { finishedDeploymentsOfJob, finishedEvalsOfJob, jobAllocCounts, jobStatusFields, setJobStatus, terminalAllocsOfJob } from "./jobs-prepared.ts";

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
  const job = jobStatusFields(db).get({ namespace, id: jobId });
  if (!job) return;
  const counts = jobAllocCounts(db).get({ namespace, jobId });
  const total = counts?.n ?? 0;
  const live = (counts?.live ?? 0) > 0;
  let status: string;
  if (job.stop) status = live ? "running" : "dead";
  else if (live) status = "running";
  else if (runsToCompletion(job.type) && total > 0 && counts!.done === total) status = "dead";
  else status = "pending";
  if (status !== job.status) {
    setJobStatus(db).run({ status, index, namespace, id: jobId });
  }
}

/**
 * Bounds what a job leaves behind: the newest terminal allocations, finished
 * evaluations and deployments are kept, older ones deleted. With the job
 * purged, every terminal allocation goes. Deterministic: ordered by index.
 */
export function collectGarbage(db: Db, index: number, namespace: string, jobId: string, jobExists: boolean): void {
  // A stopped allocation still running on its agent stays until it reports (terminalAllocsOfJob).
  const terminal = terminalAllocsOfJob(db).all({ namespace, jobId });
  const keepAllocs = jobExists ? JOB_STATE_LIMITS.terminalAllocs : 0;
  const dropAllocs = terminal.slice(0, Math.max(0, terminal.length - keepAllocs)).map((r) => r.id);
  deleteAllocations(db, index, dropAllocs);

  const done = finishedEvalsOfJob(db).all({ namespace, jobId });
  const dropEvals = done.slice(0, Math.max(0, done.length - JOB_STATE_LIMITS.finishedEvals)).map((r) => r.id);
  if (dropEvals.length) db.delete(evaluations).where(inArray(evaluations.id, dropEvals)).run();

  const finished = finishedDeploymentsOfJob(db).all({ namespace, jobId });
  const dropDeps = finished.slice(0, Math.max(0, finished.length - JOB_STATE_LIMITS.finishedDeployments)).map((r) => r.id);
  if (dropDeps.length) db.delete(deployments).where(inArray(deployments.id, dropDeps)).run();
}

