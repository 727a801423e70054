// `alloc stop` (Nomad's Allocation.Stop): the allocation is stopped and an
// evaluation replaces it. One entry does both, so the replacement cannot be
// lost between a stop and an evaluation proposed separately. The scheduler
// sees the stopped allocation as terminal (core/cluster/scheduling/views.ts)
// and places a new one at its group index.
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { allocations, evaluations, jobs } from "../../store/schema-jobs.ts";
import type { CommandResult } from "../result.ts";
import { refreshJobStatus } from "./jobs-common.ts";

export const StopAllocation = z.object({
  type: z.literal("StopAllocation"), v: z.literal(1), at: z.number(),
  allocId: z.string().min(1).max(256),
  /** The evaluation that places the replacement. */
  evalId: z.string().min(1).max(256),
  description: z.string().max(1024),
});

export const allocStopCommands = [StopAllocation] as const;

const TERMINAL_CLIENT = new Set(["complete", "failed", "lost"]);

function applyStopAllocation(db: Db, index: number, cmd: z.infer<typeof StopAllocation>): CommandResult {
  const a = db.select().from(allocations).where(eq(allocations.id, cmd.allocId)).get();
  if (!a) return { ok: false, code: "ALLOC_NOT_FOUND", message: `no allocation ${cmd.allocId}` };
  if (a.desiredStatus === "stop" || TERMINAL_CLIENT.has(a.clientStatus)) {
    return { ok: false, code: "ALLOC_NOT_RUNNING", message: `allocation ${a.id} is already ${a.desiredStatus === "stop" ? "stopped" : a.clientStatus}` };
  }
  if (db.select({ id: evaluations.id }).from(evaluations).where(eq(evaluations.id, cmd.evalId)).get()) {
    return { ok: false, code: "EVAL_EXISTS", message: `evaluation ${cmd.evalId} already exists` };
  }
  db.update(allocations).set({ desiredStatus: "stop", desiredDescription: cmd.description, modifiedAt: cmd.at, modifyIndex: index })
    .where(eq(allocations.id, a.id)).run();
  const job = db.select({ priority: jobs.priority }).from(jobs).where(and(eq(jobs.namespace, a.namespace), eq(jobs.id, a.jobId))).get();
  db.insert(evaluations).values({
    id: cmd.evalId, namespace: a.namespace, jobId: a.jobId, priority: job?.priority ?? a.priority, triggeredBy: "alloc-stop", nodeId: "",
    status: "pending", statusDescription: `allocation ${a.id} stopped: ${cmd.description}`.slice(0, 1024), failedGroups: [], waitUntil: 0,
    createdAt: cmd.at, modifiedAt: cmd.at, createIndex: index, modifyIndex: index,
  }).run();
  refreshJobStatus(db, index, a.namespace, a.jobId);
  return { ok: true, value: { allocId: a.id, evalId: cmd.evalId } };
}

export const allocStopAppliers = {
  StopAllocation: { tables: ["allocations", "evaluations", "jobs"], apply: applyStopAllocation },
};

/** The event stream's view (core/state/events.ts). */
export const allocStopEventMappers = {
  StopAllocation: (c: z.infer<typeof StopAllocation>) => [{
    topic: "allocation" as const, type: "AllocationStopped", payload: { allocId: c.allocId, evalId: c.evalId, description: c.description },
  }],
};
