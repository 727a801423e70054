// Canary deployments (Nomad's update.canary), the pure part of an
// evaluation. On a destructive change of a group with `update.canary = N`,
// the deployment first places N allocations of the new version BESIDE the
// old ones (the count is not reduced, nothing old is replaced) and waits.
// Until the group is promoted its canaries are kept apart from the
// scheduler's reconciliation (they would look like surplus allocations of
// the same indexes) and the rolling update of the group is frozen. Then:
//
// - promoted: each canary takes over the index it was placed for, the old
//   allocation at that index stops, and the ordinary rolling update replaces
//   the rest, update.max_parallel at a time (canaries count as new ones);
// - failed, cancelled or superseded before promotion: its canaries stop, the
//   old allocations are left as they are (a revert, if any, is the watcher's).
//
// A canary is an allocation listed in its deployment group's
// placedCanaries. Blue/green is canary = count: a full new set beside the
// old one, swapped on promotion.
import type { AllocRow, DeploymentRow } from "../../store/schema-jobs.ts";
import { schedule, type AllocationView, type Job, type Placement, type Plan, type Stop, type TaskGroup } from "../../scheduler/index.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import type { PlanPlacement } from "../../state/domains/jobs-commands.ts";
import type { EvalInput } from "./evaluate.ts";
import { otherLiveOf } from "./live-cluster.ts";
import { allocView, nodeViews } from "./views.ts";

export interface CanaryPrep {
  /** What the rest of the evaluation sees: unpromoted canaries and the old allocations promoted ones displace are left out. */
  input: EvalInput;
  /** Groups waiting for promotion: their outdated allocations are not replaced yet. */
  frozen: Set<string>;
  /** Canaries of a deployment that ended unpromoted, and old allocations whose index a promoted canary took. */
  stops: Stop[];
  /** Canaries still to place, per group, with the indexes they are for. */
  toPlace: { group: TaskGroup; indexes: number[] }[];
  /** Canaries per group of the deployment this evaluation opens. */
  opening: Map<string, number>;
  /** Live canaries kept apart (they hold resources). */
  apart: AllocRow[];
}

/** The current deployment as evaluate() decided it (deploymentFor). */
export interface CurrentDeployment {
  id: string;
  isNew: boolean;
}

interface CanaryOf {
  deployment: DeploymentRow;
  promoted: boolean;
}

/** Every canary of the job's deployments: allocation id → its deployment and whether its group was promoted. */
export function canariesOf(deployments: readonly DeploymentRow[]): Map<string, CanaryOf> {
  const out = new Map<string, CanaryOf>();
  for (const d of deployments) {
    for (const g of Object.values(d.groups)) {
      for (const id of g.placedCanaries ?? []) out.set(id, { deployment: d, promoted: g.promoted === true });
    }
  }
  return out;
}

/** How many canaries a group wants on a destructive change: none without outdated allocations (a first version has nothing to compare). */
export function canariesWanted(group: TaskGroup, outdatedLive: number): number {
  const n = group.update.canary ?? 0;
  if (n <= 0 || outdatedLive === 0) return 0;
  return Math.min(n, group.count);
}

export function prepareCanaries(input: EvalInput, spec: Job, hashes: ReadonlyMap<string, string>, dep: CurrentDeployment | undefined): CanaryPrep {
  const prep: CanaryPrep = { input, frozen: new Set(), stops: [], toPlace: [], opening: new Map(), apart: [] };
  const canaries = canariesOf(input.deployments);
  if (canaries.size === 0 && !spec.groups.some((g) => (g.update.canary ?? 0) > 0)) return prep;
  const current = dep && !dep.isNew ? input.deployments.find((d) => d.id === dep.id) : undefined;

  const main: AllocRow[] = [];
  for (const a of input.jobAllocs) {
    const c = canaries.get(a.id);
    if (!c || c.promoted) {
      main.push(a);
      continue;
    }
    if (current && c.deployment.id === current.id) {
      if (holdsResources(a)) prep.apart.push(a);
      continue;
    }
    // Its deployment ended (failed, cancelled, superseded) before promotion.
    if (holdsResources(a)) prep.stops.push(stopOf(a, `canary of deployment ${c.deployment.id.slice(0, 8)} (${c.deployment.status === "running" ? "superseded" : c.deployment.status}), not promoted: stopped`));
  }

  const outdated = (g: TaskGroup) => main.filter((a) => a.groupName === g.name && holdsResources(a) && a.groupHash !== hashes.get(g.name));
  const displaced = new Set<string>();
  for (const g of spec.groups) {
    let desired = 0;
    let promoted = false;
    if (dep?.isNew) {
      desired = canariesWanted(g, outdated(g).length);
      if (desired > 0) prep.opening.set(g.name, desired);
    } else if (current) {
      const dg = current.groups[g.name];
      desired = dg?.desiredCanaries ?? 0;
      promoted = dg?.promoted === true;
    }
    if (desired === 0) continue;
    if (promoted) {
      // Each promoted canary takes over its index: the old allocation there stops.
      const live = main.filter((a) => a.groupName === g.name && holdsResources(a) && canaries.has(a.id));
      const taken = new Set(live.map((a) => a.taskGroupIndex));
      for (const a of outdated(g)) {
        if (!taken.has(a.taskGroupIndex)) continue;
        displaced.add(a.id);
        prep.stops.push(stopOf(a, "replaced by a promoted canary of the new version"));
      }
      continue;
    }
    prep.frozen.add(g.name);
    // A failed canary is not replaced: it fails the deployment (its health verdict). Only one lost with its node is.
    const placed = input.jobAllocs.filter((a) => a.groupName === g.name && current !== undefined && canaries.get(a.id)?.deployment.id === current.id && a.clientStatus !== "lost" && (holdsResources(a) || a.clientStatus === "failed"));
    const need = desired - placed.length;
    if (need <= 0) continue;
    const used = new Set(placed.map((a) => a.taskGroupIndex));
    const candidates = [...outdated(g).map((a) => a.taskGroupIndex).sort((x, y) => x - y), ...Array.from({ length: g.count }, (_, i) => i)];
    const indexes: number[] = [];
    for (const i of candidates) {
      if (indexes.length === need) break;
      if (used.has(i)) continue;
      used.add(i);
      indexes.push(i);
    }
    if (indexes.length) prep.toPlace.push({ group: g, indexes });
  }

  // Canaries kept apart still hold resources and ports: the scheduler sees them under another job name.
  const apartAsOthers = prep.apart.map((a) => ({ ...a, jobId: `${a.jobId}\u0000canary` }));
  prep.input = {
    ...input,
    jobAllocs: main.filter((a) => !displaced.has(a.id)),
    // Only with canaries apart does the input need a list of the others (the LiveCluster's index holds them as this job's).
    ...(apartAsOthers.length ? { otherLive: [...otherLiveOf(input), ...apartAsOthers] } : {}),
  };
  return prep;
}

/**
 * Places the canaries still missing, beside everything the job already
 * runs and what `plan` places. Placement failures join the plan's (the
 * evaluation blocks until capacity comes); canary stops are added to it.
 */
export function placeCanaries(prep: CanaryPrep, original: EvalInput, spec: Job, plan: Plan, opts: { preemption: boolean }): Placement[] {
  deferScaleUp(prep, original, plan);
  plan.stops.push(...prep.stops);
  if (prep.toPlace.length === 0) return [];
  const stopping = new Set(plan.stops.map((s) => s.allocId));
  const held = (a: AllocRow): AllocationView => allocView({ ...a, jobId: `${a.jobId}\u0000held` });
  const planned: AllocationView[] = plan.placements.map((p, i) => ({
    id: `planned-${i}`, jobId: `${spec.id}\u0000planned`, namespace: spec.namespace, group: p.group, nodeId: p.nodeId,
    priority: spec.priority, resources: p.resources, ports: p.ports.map((x) => x.value), status: "pending", taskGroupIndex: p.taskGroupIndex,
  }));
  const snapshot = {
    nodes: nodeViews(original.nodes, original.drains),
    allocations: [
      ...otherLiveOf(original).map((a) => allocView(a)).filter((a) => !stopping.has(a.id)),
      ...original.jobAllocs.filter((a) => holdsResources(a) && !stopping.has(a.id)).map(held),
      ...planned,
    ],
  };
  const job: Job = { ...spec, groups: prep.toPlace.map((t) => ({ ...t.group, count: t.indexes.length })) };
  const out = schedule(snapshot, job, `${original.evalId}/canary`, opts);
  const byGroup = new Map(prep.toPlace.map((t) => [t.group.name, t.indexes]));
  for (const f of out.failedGroups) plan.failedGroups.push({ ...f, group: f.group });
  if (out.failedGroups.length) plan.blocked = true;
  for (const s of out.stops) if (s.reason === "preempted") plan.stops.push(s);
  return out.placements.map((p) => ({ ...p, taskGroupIndex: byGroup.get(p.group)![p.taskGroupIndex] ?? p.taskGroupIndex }));
}

/**
 * While a group waits for promotion it places nothing new beyond its
 * canaries (Nomad: no placements while canarying, except replacements of
 * lost or failed allocations): an index no allocation of the job ever held
 * (a raised count) waits for the promotion.
 */
function deferScaleUp(prep: CanaryPrep, original: EvalInput, plan: Plan): void {
  if (prep.frozen.size === 0) return;
  const held = new Set(original.jobAllocs.map((a) => `${a.groupName}[${a.taskGroupIndex}]`));
  const victims = new Set<string>();
  plan.placements = plan.placements.filter((p) => {
    if (!prep.frozen.has(p.group) || held.has(`${p.group}[${p.taskGroupIndex}]`)) return true;
    for (const v of p.preempted ?? []) victims.add(v);
    return false;
  });
  if (victims.size) plan.stops = plan.stops.filter((s) => !(s.reason === "preempted" && victims.has(s.allocId)));
}

/** Adds the canary placements to the commit (and to the plan a dry run shows), and the canary counts to a deployment it opens. */
export function commitCanaries(
  commit: { v: 1 | 2; placements: PlanPlacement[]; deployment?: { groups: Record<string, { canaries?: number; autoPromote?: boolean }> } },
  plan: Plan, placements: Placement[], prep: CanaryPrep, spec: Job, hashes: ReadonlyMap<string, string>,
  depId: string | undefined, newId: () => string,
): void {
  if (commit.deployment) {
    for (const [name, n] of prep.opening) {
      const g = commit.deployment.groups[name];
      const autoPromote = spec.groups.find((x) => x.name === name)?.update.autoPromote ?? false;
      if (g) Object.assign(g, { canaries: n, autoPromote });
      commit.v = 2;
    }
  }
  if (!depId) return;
  if (placements.length) commit.v = 2;
  for (const p of placements) {
    plan.placements.push(p);
    commit.placements.push({
      id: newId(), group: p.group, taskGroupIndex: p.taskGroupIndex, nodeId: p.nodeId, resources: p.resources, ports: p.ports,
      groupHash: hashes.get(p.group)!, deploymentId: depId, previousAlloc: "", reschedules: [], canary: true,
    });
  }
}

function stopOf(a: AllocRow, message: string): Stop {
  return { allocId: a.id, nodeId: a.nodeId, namespace: a.namespace, jobId: a.jobId, group: a.groupName, reason: "count-lowered", message };
}
