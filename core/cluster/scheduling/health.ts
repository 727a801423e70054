// The leader's allocation health watcher, pure part: which allocations
// became healthy or unhealthy, and which running deployments are now
// decided. The loop (loop.ts) gathers the rows, proposes UpdateDeployment
// with the result, and re-registers the last stable version when a failed
// deployment asked for auto_revert.
import type { AllocRow, DeploymentRow, JobRow } from "../../store/schema-jobs.ts";
import type { TaskGroup } from "../../scheduler/jobspec/types.ts";
import type { AllocLean } from "../../state/domains/jobs-read.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import { allocHealth } from "./policy.ts";
import { groupHash } from "./views.ts";

export interface HealthInput {
  now: number;
  /** Allocations without a verdict yet (live ones, and any of a running deployment). */
  candidates: readonly AllocLean[];
  /** Catalog check statuses of an allocation's task services. */
  checks(a: AllocLean): string[];
  job(namespace: string, id: string): JobRow | undefined;
  running: readonly DeploymentRow[];
  /** Every allocation of a job (for deployment outcomes). */
  jobAllocs(namespace: string, id: string): readonly AllocLean[];
  /**
   * The group spec an allocation was placed with, for one whose job is gone (the rows
   * come without it: the watcher reads them every second). A candidate that carries its
   * group spec is used as it is.
   */
  groupSpec?(allocId: string): TaskGroup | undefined;
}

export interface HealthOutcome {
  health: { allocId: string; healthy: boolean; description: string }[];
  deployments: { id: string; status: "successful" | "failed" | "cancelled"; description: string }[];
  /** Failed deployments whose job should go back to its stable version. */
  reverts: { namespace: string; jobId: string; stableVersion: number; failedVersion: number }[];
}

export function assessHealth(input: HealthInput): HealthOutcome {
  const out: HealthOutcome = { health: [], deployments: [], reverts: [] };
  const verdicts = new Map<string, boolean>();
  for (const a of input.candidates) {
    if (a.jobType !== "service") continue;
    const job = input.job(a.namespace, a.jobId);
    const group = job?.spec.groups.find((g) => g.name === a.groupName) ?? (a as Partial<AllocRow>).groupSpec ?? input.groupSpec?.(a.id);
    if (!group) continue; // gone meanwhile
    const v = allocHealth(a, input.checks(a), input.now, group.update);
    if (!v) continue;
    out.health.push({ allocId: a.id, ...v });
    verdicts.set(a.id, v.healthy);
  }
  for (const d of input.running) {
    const job = input.job(d.namespace, d.jobId);
    const allocs = input.jobAllocs(d.namespace, d.jobId).map((a) =>
      verdicts.has(a.id) ? { ...a, health: verdicts.get(a.id) ? "healthy" : "unhealthy" } : a);
    const o = deploymentOutcome(d, job, allocs);
    if (!o) continue;
    out.deployments.push({ id: d.id, ...o });
    const wantsRevert = Object.values(d.groups).some((g) => g.autoRevert);
    if (o.status === "failed" && wantsRevert && job && job.stableVersion !== null && job.stableVersion !== d.jobVersion) {
      out.reverts.push({ namespace: d.namespace, jobId: d.jobId, stableVersion: job.stableVersion, failedVersion: d.jobVersion });
    }
  }
  return out;
}

/** successful: every group runs `count` healthy allocations of this version; failed: one of them turned unhealthy. */
export function deploymentOutcome(
  d: DeploymentRow, job: JobRow | undefined, allocs: readonly AllocLean[],
): { status: "successful" | "failed" | "cancelled"; description: string } | undefined {
  if (!job || job.stop) return { status: "cancelled", description: "job stopped" };
  if (job.version !== d.jobVersion) return { status: "cancelled", description: `superseded by version ${job.version}` };
  const bad = allocs.find((a) => a.deploymentId === d.id && a.health === "unhealthy");
  if (bad) return { status: "failed", description: `allocation ${bad.id.slice(0, 8)} (${bad.groupName}[${bad.taskGroupIndex}]) is unhealthy` };
  // Canaries wait for a promotion (manual, or the watcher's auto_promote) before the rollout can finish.
  if (Object.values(d.groups).some((g) => (g.desiredCanaries ?? 0) > 0 && !g.promoted)) return undefined;
  for (const g of job.spec.groups) {
    const hash = groupHash(job.spec, g);
    const live = allocs.filter((a) => a.groupName === g.name && holdsResources(a));
    if (live.length !== g.count || live.some((a) => a.groupHash !== hash || a.health !== "healthy")) return undefined;
  }
  return { status: "successful", description: "every allocation is healthy" };
}
