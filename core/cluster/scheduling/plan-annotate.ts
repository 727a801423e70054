// What `job plan` says will happen to each allocation (pure): created,
// updated in place, replaced (create/destroy update, through the rolling
// update), stopped, or left alone; counted per group as Nomad's plan
// annotations (DesiredTGUpdates) are. Destructive replacements are all the
// live allocations whose tasks change, not only the first max_parallel the
// first evaluation replaces.
//
// Canaries (Nomad: `Task Group: "web" (1 canary, 3 ignore)`): the canary
// placements of a destructive change are "canary", and while a group waits
// for promotion its outdated allocations are "ignore" — nothing replaces
// them until the canaries are promoted (deployment-canary.ts).
import type { Job } from "../../scheduler/index.ts";
import type { AllocRow } from "../../store/schema-jobs.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import type { EvalOutcome } from "./evaluate.ts";
import { groupHash } from "./views.ts";

export type PlannedAction = "create" | "canary" | "in-place update" | "create/destroy update" | "destroy" | "ignore";

export interface PlannedAlloc {
  action: PlannedAction;
  group: string;
  taskGroupIndex: number;
  /** The existing allocation ("" for a create). */
  allocId: string;
  nodeId: string;
  /** Its job version now (-1 for a create). */
  jobVersion: number;
  reason?: string;
}

export interface PlanAnnotations {
  /** Per group: action → count (only the actions that occur). */
  groups: Record<string, Partial<Record<PlannedAction, number>>>;
  allocations: PlannedAlloc[];
}

/**
 * `waiting`: groups whose running deployment (of the planned version)
 * already placed canaries and waits for their promotion; a deployment the
 * plan opens says so itself (its groups' `canaries`).
 */
export function annotatePlan(spec: Job, jobAllocs: readonly AllocRow[], outcome: EvalOutcome, waiting: ReadonlySet<string> = new Set()): PlanAnnotations {
  const hashes = new Map(spec.groups.map((g) => [g.name, groupHash(spec, g)]));
  const live = jobAllocs.filter(holdsResources);
  const destructive = new Set(live.filter((a) => hashes.has(a.groupName) && a.groupHash !== hashes.get(a.groupName)).map((a) => a.id));
  const opening = Object.entries(outcome.commit.deployment?.groups ?? {}).filter(([, g]) => (g.canaries ?? 0) > 0).map(([name]) => name);
  const canarying = new Set([...waiting, ...opening, ...outcome.commit.placements.filter((p) => p.canary).map((p) => p.group)]);
  const inPlace = new Set(outcome.commit.inPlace ?? []);
  const stops = new Map(outcome.plan.stops.map((s) => [s.allocId, s.message]));
  // An in-place update made destructive (its node no longer fits, inplace-misfit.ts): same tasks, older
  // version, stopped and replaced in this plan — Nomad counts it as a create/destroy update too.
  const replaced = new Set(outcome.commit.placements.map((p) => p.previousAlloc).filter(Boolean));
  for (const a of live) {
    if (stops.has(a.id) && replaced.has(a.id) && a.groupHash === hashes.get(a.groupName) && a.jobVersion !== outcome.commit.jobVersion) destructive.add(a.id);
  }
  const out: PlannedAlloc[] = [];
  for (const a of live) {
    const base = { group: a.groupName, taskGroupIndex: a.taskGroupIndex, allocId: a.id, nodeId: a.nodeId, jobVersion: a.jobVersion };
    if (destructive.has(a.id) && canarying.has(a.groupName) && !stops.has(a.id)) out.push({ ...base, action: "ignore", reason: "waits for the canaries to be promoted" });
    else if (destructive.has(a.id)) out.push({ ...base, action: "create/destroy update", ...(stops.has(a.id) ? { reason: stops.get(a.id) } : {}) });
    else if (stops.has(a.id)) out.push({ ...base, action: "destroy", reason: stops.get(a.id) });
    else if (inPlace.has(a.id)) out.push({ ...base, action: "in-place update" });
    else out.push({ ...base, action: "ignore" });
  }
  for (const p of outcome.commit.placements) {
    if (p.previousAlloc && destructive.has(p.previousAlloc)) continue; // counted as its replacement above
    out.push({ action: p.canary ? "canary" : "create", group: p.group, taskGroupIndex: p.taskGroupIndex, allocId: "", nodeId: p.nodeId, jobVersion: -1 });
  }
  const groups: PlanAnnotations["groups"] = {};
  for (const x of out) {
    const g = (groups[x.group] ??= {});
    g[x.action] = (g[x.action] ?? 0) + 1;
  }
  return { groups, allocations: out.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.taskGroupIndex - b.taskGroupIndex)) };
}
