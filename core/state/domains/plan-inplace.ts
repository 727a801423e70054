// In-place updates of a CommitPlan: allocations whose tasks did not change
// move to the job's current version (its group spec and priority) without
// being replaced, so nothing is left stale at an old version after a change
// of count, constraints, spread, priority, meta or policies. The agent keeps
// the running processes (it starts tasks only for allocation ids it does not
// run yet). An allocation that is no longer live, or whose tasks would change
// after all, is left alone: the rolling update replaces those.
import { eq } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import { allocations, type JobRow } from "../../store/schema-jobs.ts";
import { tasksUpdated } from "../../scheduler/update-kind.ts";
import { holdsResources } from "./jobs-common.ts";

export function applyInPlace(db: Db, index: number, at: number, ids: readonly string[], job: Pick<JobRow, "version" | "priority" | "spec">): number {
  let updated = 0;
  for (const id of ids) {
    const a = db.select().from(allocations).where(eq(allocations.id, id)).get();
    if (!a || !holdsResources(a) || a.jobId !== job.spec.id || a.namespace !== job.spec.namespace) continue;
    const group = job.spec.groups.find((g) => g.name === a.groupName);
    if (!group || tasksUpdated(a.groupSpec, group) !== null) continue;
    db.update(allocations).set({ jobVersion: job.version, groupSpec: group, priority: job.priority, modifiedAt: at, modifyIndex: index })
      .where(eq(allocations.id, id)).run();
    updated++;
  }
  return updated;
}
