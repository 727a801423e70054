// Which live allocations of a job an evaluation updates in place (pure):
// those the plan keeps, whose group's tasks are unchanged (same group hash,
// see core/scheduler/update-kind.ts), but which still carry an older job
// version or priority. Without this, a change of count, constraints,
// spread, priority, meta or policies would leave them at the old version
// forever (Nomad's in-place update).
import type { Job } from "../../scheduler/index.ts";
import type { AllocRow, JobRow } from "../../store/schema-jobs.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";

export function inPlaceUpdates(
  job: JobRow | undefined, spec: Job, hashes: ReadonlyMap<string, string>, jobAllocs: readonly AllocRow[], stopping: ReadonlySet<string>,
): string[] {
  if (!job || job.stop) return [];
  const out: string[] = [];
  for (const a of jobAllocs) {
    if (!holdsResources(a) || stopping.has(a.id)) continue;
    const hash = hashes.get(a.groupName);
    if (hash === undefined || a.groupHash !== hash) continue; // gone (stopped) or outdated (rolling update)
    if (a.jobVersion !== job.version || a.priority !== job.priority) out.push(a.id);
  }
  return out;
}
