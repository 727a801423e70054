// What the leader does after a committed entry: which evaluations to run,
// which jobs need a new evaluation, which nodes' capacity changed (blocked
// evaluations may fit now). A function of the entry and the state after it,
// with no I/O of its own; loop.ts carries the reactions out.
import type { AppliedEntry } from "../../state/fsm.ts";
import type { StateReader } from "../../state/reader.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import { statusReportsOf } from "../../state/domains/jobs-commands.ts";
import { isSystemType, runsToCompletion } from "../../scheduler/index.ts";

export interface JobRef {
  namespace: string;
  jobId: string;
  priority: number;
}

export type Reaction =
  | { kind: "enqueue"; evalId: string }
  | { kind: "evaluate"; jobs: JobRef[]; triggeredBy: string; nodeId?: string }
  | { kind: "capacity"; nodeId: string }
  | { kind: "unblock"; namespace: string; jobId: string }
  /** The whole state was replaced (a backup restored): start over from it. */
  | { kind: "reset" };

/** Jobs with live allocations on a node (a node event concerns them). */
function jobsOnNode(state: StateReader, nodeId: string): JobRef[] {
  const seen = new Map<string, JobRef>();
  for (const a of state.jobs.listAllocs({ nodeId })) {
    if (!holdsResources(a)) continue;
    seen.set(`${a.namespace}\u0000${a.jobId}`, { namespace: a.namespace, jobId: a.jobId, priority: a.priority });
  }
  return [...seen.values()];
}

/**
 * Running system and sysbatch jobs: a node that joins, comes back or stops
 * draining (or whose attributes changed) may now qualify for one of each.
 */
function systemJobs(state: StateReader): JobRef[] {
  return state.jobs.listJobs()
    .filter((j) => isSystemType(j.type) && !j.stop && j.spec.periodic === undefined && (j.spec.parameterized === undefined || j.spec.parentId !== undefined))
    .map((j) => ({ namespace: j.namespace, jobId: j.id, priority: j.priority }));
}

/** Capacity changed on a node, and system jobs may want it. */
function nodeEligible(state: StateReader, nodeId: string): Reaction[] {
  const jobs = systemJobs(state);
  const out: Reaction[] = [{ kind: "capacity", nodeId }];
  if (jobs.length) out.push({ kind: "evaluate", jobs, triggeredBy: "node-update", nodeId });
  return out;
}

function jobRef(state: StateReader, namespace: string, jobId: string): JobRef | undefined {
  const j = state.jobs.getJob(namespace, jobId);
  return j ? { namespace, jobId, priority: j.priority } : undefined;
}

export function reactionsTo(entry: AppliedEntry, state: StateReader): Reaction[] {
  const c = entry.command;
  if (!entry.result.ok) return [];
  switch (c.type) {
    case "RegisterJob":
    case "LaunchChildJob":
    case "PromoteDeployment":
    case "FailDeployment":
    case "StopAllocation": // alloc stop: its evaluation places the replacement
      return [{ kind: "enqueue", evalId: c.evalId }];
    case "DeregisterJob":
      return [{ kind: "unblock", namespace: c.namespace, jobId: c.jobId }, { kind: "enqueue", evalId: c.evalId }];
    case "UpdateEvaluation":
      return c.evals.filter((e) => e.status === "pending").map((e) => ({ kind: "enqueue" as const, evalId: e.id }));
    case "RegisterNode":
      return nodeEligible(state, c.node.id);
    case "SetNodeStatus":
      return c.status === "down"
        ? [{ kind: "evaluate", jobs: jobsOnNode(state, c.nodeId), triggeredBy: "node-update", nodeId: c.nodeId }]
        : nodeEligible(state, c.nodeId);
    case "DeregisterNode":
      return [{ kind: "evaluate", jobs: jobsOnNode(state, c.nodeId), triggeredBy: "node-update", nodeId: c.nodeId }];
    case "DrainNode":
      return c.enable
        ? [{ kind: "evaluate", jobs: jobsOnNode(state, c.nodeId), triggeredBy: "node-drain", nodeId: c.nodeId }]
        : nodeEligible(state, c.nodeId);
    case "CommitPlan":
      return afterPlan(c, state);
    case "UpdateAllocStatus":
      return afterReport(c, entry.result.value, state);
    case "UpdateDeployment":
      return afterHealth(c, state);
    case "RestoreState":
      return [{ kind: "reset" }];
    default:
      return [];
  }
}

/** Stops free capacity; preempted allocations of other jobs need their own evaluation. */
function afterPlan(c: Extract<AppliedEntry["command"], { type: "CommitPlan" }>, state: StateReader): Reaction[] {
  const out: Reaction[] = [];
  const nodes = new Set<string>();
  const victims = new Map<string, JobRef>();
  for (const s of c.stops) {
    const a = state.jobs.getAlloc(s.allocId);
    if (!a) continue;
    nodes.add(a.nodeId);
    if (a.jobId !== c.jobId || a.namespace !== c.namespace) victims.set(`${a.namespace}\u0000${a.jobId}`, { namespace: a.namespace, jobId: a.jobId, priority: a.priority });
  }
  for (const nodeId of nodes) out.push({ kind: "capacity", nodeId });
  if (victims.size) out.push({ kind: "evaluate", jobs: [...victims.values()], triggeredBy: "preemption" });
  return out;
}

/**
 * A failure needs a replacement (reschedule policy); a finished allocation
 * frees capacity; a running one may let a drain move the next batch.
 */
function afterReport(c: Extract<AppliedEntry["command"], { type: "UpdateAllocStatus" }>, value: unknown, state: StateReader): Reaction[] {
  const out: Reaction[] = [];
  const failed = new Map<string, JobRef>();
  const progressed = new Map<string, JobRef>();
  // Read only what can matter: most reports are "running" with no drain anywhere, and reading
  // each one's allocation (group spec and all) was a read per report for no reaction.
  let draining: Set<string> | undefined;
  const drainingNow = () => (draining ??= new Set(state.jobs.drains().map((d) => d.nodeId)));
  // A v2 entry carries several agents' reports: each reacts as its own entry did, and one
  // rolled back alone (alloc-status.ts) no more than its refused v1 entry would.
  const outcomes = c.v === 2 ? (value as { reports?: unknown[] } | undefined)?.reports : undefined;
  for (const [i, r] of statusReportsOf(c).entries()) {
    if ((outcomes?.[i] as { refused?: unknown } | undefined)?.refused) continue;
    for (const u of r.updates) {
      const ends = u.clientStatus === "complete" || u.clientStatus === "failed";
      if (!ends && !(u.clientStatus === "running" && drainingNow().size > 0)) continue;
      const a = state.jobs.getAlloc(u.allocId);
      if (!a || a.nodeId !== r.nodeId) continue;
      const key = `${a.namespace}\u0000${a.jobId}`;
      if (u.clientStatus === "failed" && a.desiredStatus === "run") failed.set(key, { namespace: a.namespace, jobId: a.jobId, priority: a.priority });
      if (u.clientStatus === "complete" || u.clientStatus === "failed") out.push({ kind: "capacity", nodeId: r.nodeId });
      if (u.clientStatus === "running" && runsToCompletion(a.jobType) && drainingNow().size > 0) {
        const ref = jobRef(state, a.namespace, a.jobId);
        if (ref) progressed.set(key, ref);
      }
    }
  }
  if (failed.size) out.push({ kind: "evaluate", jobs: [...failed.values()], triggeredBy: "alloc-failure" });
  if (progressed.size) out.push({ kind: "evaluate", jobs: [...progressed.values()], triggeredBy: "node-drain" });
  return out;
}

/** A health verdict may release the next batch of a rolling update or a drain. */
function afterHealth(c: Extract<AppliedEntry["command"], { type: "UpdateDeployment" }>, state: StateReader): Reaction[] {
  const jobs = new Map<string, JobRef>();
  for (const h of c.health) {
    const a = state.jobs.getAlloc(h.allocId);
    if (!a) continue;
    const ref = jobRef(state, a.namespace, a.jobId);
    if (ref) jobs.set(`${a.namespace}\u0000${a.jobId}`, ref);
  }
  return jobs.size ? [{ kind: "evaluate", jobs: [...jobs.values()], triggeredBy: "deployment-watcher" }] : [];
}
