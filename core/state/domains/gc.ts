// Garbage collection of terminal jobs, evaluations, allocations and
// deployments (Nomad's job_gc_threshold, eval_gc_threshold,
// deployment_gc_threshold), through the log like every other change.
//
// The leader chooses (gcCandidates: what has been terminal since before a
// cut-off index) and proposes a GarbageCollect entry naming each row; the
// applier deletes a row only if it is still collectable when the entry
// applies (a job re-registered, an evaluation reopened, a deployment resumed
// in between is kept). What a replica deletes is thus a function of the
// entry and its own state, as every applier must be.
//
// Rules, as Nomad's core scheduler:
// - a job goes when it is dead (stopped or run to completion), unchanged
//   since the job cut-off, with no evaluation still open and every
//   allocation terminal and unchanged since that cut-off: with its versions,
//   evaluations, allocations, deployments and launch records;
// - an evaluation goes when finished and unchanged since the eval cut-off,
//   unless it is its job's newest (it says why the job is placed or not);
// - an allocation goes when terminal (stopped or finished and not running on
//   its agent) and unchanged since the eval cut-off, unless its job is a batch
//   job that still exists (batch results stay visible until the job goes);
// - a deployment goes when no longer running and unchanged since the
//   deployment cut-off, unless it is its job's newest;
// - a node goes when down since before the node cut-off with no live
//   allocation (node-gc.ts), with all that is keyed by it.
import { and, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import { deployments, evaluations, jobLaunches, jobs, jobVersions } from "../../store/schema-jobs.ts";
import type { CommandResult } from "../result.ts";
import { deleteAllocations } from "./alloc-delete.ts";
import { collectNodes, GcNode, nodeGcCandidates } from "./node-gc.ts";

/** Rows named per entry and kind: a collection of more is proposed as several entries. */
export const GC_BATCH = 2000;

const id = z.string().min(1).max(256);
export const GarbageCollect = z.object({
  /**
   * 2 when the entry names nodes: a release before node GC would drop `nodes`
   * and keep them, so its state would differ from the others'; v2 makes it
   * stop by name instead (command-versions.ts). Proposers: gcVersion().
   */
  type: z.literal("GarbageCollect"), v: z.union([z.literal(1), z.literal(2)]), at: z.number(),
  /** Each with the modify index it was chosen at: a job changed since is kept. */
  jobs: z.array(z.object({ namespace: z.string().min(1).max(128), id, modifyIndex: z.number().int().nonnegative() })).max(GC_BATCH),
  evals: z.array(id).max(GC_BATCH),
  allocs: z.array(id).max(GC_BATCH),
  deployments: z.array(id).max(GC_BATCH),
  /** Nodes down for good, each with the modify index it was chosen at (absent in entries older than node GC). */
  nodes: z.array(GcNode).max(GC_BATCH).optional(),
});
export type GarbageCollect = z.infer<typeof GarbageCollect>;

/** The entry version a collection needs (see GarbageCollect.v). */
export function gcVersion(c: { nodes?: readonly unknown[] }): 1 | 2 {
  return c.nodes && c.nodes.length > 0 ? 2 : 1;
}

export const gcCommands = [GarbageCollect] as const;

const FINISHED_EVAL = ["complete", "failed", "canceled"];
/** An allocation nothing will change any more: stopped or finished, and not running on its agent. */
const TERMINAL_ALLOC = "(desired_status = 'stop' OR client_status IN ('complete','failed','lost')) AND client_status NOT IN ('pending','running')";

/** The highest index whose changes are old enough to collect, per kind (0: none). */
export interface GcCutoffs {
  job: number;
  eval: number;
  deployment: number;
  /** Nodes down at or before this time (ms epoch, the leader's clock) may go; absent: no node is collected. */
  nodeDownBefore?: number;
}

export interface GcCandidates {
  jobs: { namespace: string; id: string; modifyIndex: number }[];
  evals: string[];
  allocs: string[];
  deployments: string[];
  nodes: GcNode[];
}

export function emptyCandidates(c: GcCandidates): boolean {
  return c.jobs.length + c.evals.length + c.allocs.length + c.deployments.length + c.nodes.length === 0;
}

/** What may be collected under these cut-offs (at most `limit` of each kind). Read-only. */
export function gcCandidates(db: Db, cut: GcCutoffs, limit = GC_BATCH): GcCandidates {
  const client = clientOf(db);
  const jobRows = client.prepare(
    `SELECT namespace, id, modify_index AS modifyIndex FROM jobs j
      WHERE status = 'dead' AND modify_index <= ?
        AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.namespace = j.namespace AND a.job_id = j.id
                          AND (a.modify_index > ? OR NOT (${TERMINAL_ALLOC})))
        AND NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.namespace = j.namespace AND e.job_id = j.id
                          AND (e.modify_index > ? OR e.status NOT IN ('complete','failed','canceled')))
      ORDER BY modify_index LIMIT ?`,
  ).all(cut.job, cut.job, cut.job, limit) as GcCandidates["jobs"];
  const evals = client.prepare(
    `SELECT id FROM evaluations e
      WHERE status IN ('complete','failed','canceled') AND modify_index <= ?
        AND create_index < (SELECT max(create_index) FROM evaluations x WHERE x.namespace = e.namespace AND x.job_id = e.job_id)
      ORDER BY modify_index LIMIT ?`,
  ).all(cut.eval, limit) as { id: string }[];
  const allocs = client.prepare(
    `SELECT id FROM allocations a
      WHERE ${TERMINAL_ALLOC} AND modify_index <= ?
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.namespace = a.namespace AND j.id = a.job_id AND j.type IN ('batch','sysbatch'))
      ORDER BY modify_index LIMIT ?`,
  ).all(cut.eval, limit) as { id: string }[];
  const deps = client.prepare(
    `SELECT id FROM deployments d
      WHERE status != 'running' AND modify_index <= ?
        AND create_index < (SELECT max(create_index) FROM deployments x WHERE x.namespace = d.namespace AND x.job_id = d.job_id)
      ORDER BY modify_index LIMIT ?`,
  ).all(cut.deployment, limit) as { id: string }[];
  const nodeRows = cut.nodeDownBefore === undefined ? [] : nodeGcCandidates(db, cut.nodeDownBefore, limit);
  return { jobs: jobRows, evals: evals.map((r) => r.id), allocs: allocs.map((r) => r.id), deployments: deps.map((r) => r.id), nodes: nodeRows };
}

function applyGarbageCollect(db: Db, index: number, cmd: GarbageCollect): CommandResult {
  const client = clientOf(db);
  const out = { jobs: 0, evals: 0, allocs: 0, deployments: 0, nodes: 0 };
  // Jobs: still dead, unchanged since chosen, nothing of theirs live.
  const stillLive = client.prepare(
    `SELECT (SELECT count(*) FROM allocations WHERE namespace = ? AND job_id = ? AND NOT (${TERMINAL_ALLOC}))
          + (SELECT count(*) FROM evaluations WHERE namespace = ? AND job_id = ? AND status NOT IN ('complete','failed','canceled')) AS n`,
  );
  for (const j of cmd.jobs) {
    const row = db.select({ status: jobs.status, modifyIndex: jobs.modifyIndex }).from(jobs).where(and(eq(jobs.namespace, j.namespace), eq(jobs.id, j.id))).get();
    if (!row || row.status !== "dead" || row.modifyIndex !== j.modifyIndex) continue;
    if ((stillLive.get(j.namespace, j.id, j.namespace, j.id) as { n: number }).n > 0) continue;
    const allocIds = (client.prepare("SELECT id FROM allocations WHERE namespace = ? AND job_id = ?").all(j.namespace, j.id) as { id: string }[]).map((r) => r.id);
    out.allocs += deleteAllocations(db, index, allocIds);
    db.delete(evaluations).where(and(eq(evaluations.namespace, j.namespace), eq(evaluations.jobId, j.id))).run();
    db.delete(deployments).where(and(eq(deployments.namespace, j.namespace), eq(deployments.jobId, j.id))).run();
    db.delete(jobVersions).where(and(eq(jobVersions.namespace, j.namespace), eq(jobVersions.jobId, j.id))).run();
    db.delete(jobLaunches).where(and(eq(jobLaunches.namespace, j.namespace), eq(jobLaunches.jobId, j.id))).run();
    db.delete(jobs).where(and(eq(jobs.namespace, j.namespace), eq(jobs.id, j.id))).run();
    out.jobs++;
  }
  if (cmd.evals.length) {
    const done = db.select({ id: evaluations.id }).from(evaluations).where(and(inArray(evaluations.id, cmd.evals), inArray(evaluations.status, FINISHED_EVAL as never))).all().map((r) => r.id);
    if (done.length) db.delete(evaluations).where(inArray(evaluations.id, done)).run();
    out.evals = done.length;
  }
  if (cmd.allocs.length) {
    const ids = cmd.allocs;
    const terminal = (client.prepare(`SELECT id FROM allocations WHERE id IN (${ids.map(() => "?").join(",")}) AND ${TERMINAL_ALLOC}`).all(...ids) as { id: string }[]).map((r) => r.id);
    out.allocs += deleteAllocations(db, index, terminal);
  }
  if (cmd.deployments.length) {
    const done = db.select({ id: deployments.id }).from(deployments).where(and(inArray(deployments.id, cmd.deployments), sql`${deployments.status} != 'running'`)).all().map((r) => r.id);
    if (done.length) db.delete(deployments).where(inArray(deployments.id, done)).run();
    out.deployments = done.length;
  }
  // Nodes last: their terminal allocations may already have gone with their jobs above.
  if (cmd.nodes?.length) out.nodes = collectNodes(db, index, cmd.nodes);
  return { ok: true, value: out };
}

export const gcAppliers = {
  GarbageCollect: { tables: ["jobs", "job_versions", "evaluations", "allocations", "deployments", "job_launches", "nodes", "node_drains", "services", "checks", "catalog_nodes", "catalog_tombstones"], apply: applyGarbageCollect },
};
