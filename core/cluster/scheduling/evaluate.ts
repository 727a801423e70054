// One evaluation, pure: state rows in, the CommitPlan to propose out. The
// placement itself is core/scheduler's schedule(); around it this adds what
// needs deployment state and time, which the leader owns:
//
// - a stopped or purged job schedules no groups, so everything it has stops;
// - rolling updates: allocations whose group hash changed are replaced at
//   most update.max_parallel at a time, and only while the previous ones
//   are not yet healthy does the budget shrink (health gating);
// - reschedule policy: a failed allocation is replaced only once its delay
//   has passed and while attempts remain (held indexes are not placed);
// - drains: at most max_parallel allocations of a group leave a draining
//   node at once, until the drain's deadline, after which all go;
// - lost allocations (node down) are replaced at once and marked lost.
//
// Ids come from the injected newId(): appliers stay deterministic.
import type { NodeRow } from "../../store/schema.ts";
import type { AllocRow, DeploymentRow, JobRow, NodeDrainRow } from "../../store/schema-jobs.ts";
import { isSystemType, schedule, type Job, type Plan, type Resources, type Stop } from "../../scheduler/index.ts";
import type { CommitPlan, PlanPlacement, PlanStop } from "../../state/domains/jobs-commands.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import type { LiveAllocLite } from "../../state/domains/jobs-read.ts";
import type { z } from "zod";
import { rescheduleDecision, settled } from "./policy.ts";
import { inPlaceUpdates } from "./inplace.ts";
import { allocView, groupHash, nodeViews } from "./views.ts";
import { inPlaceMisfits } from "./inplace-misfit.ts";
import { otherLiveOf, type LiveCluster } from "./live-cluster.ts";
import { commitCanaries, placeCanaries, prepareCanaries } from "./deployment-canary.ts";

export interface EvalInput {
  evalId: string;
  namespace: string;
  jobId: string;
  now: number;
  /** undefined: the job was purged. */
  job: JobRow | undefined;
  nodes: readonly NodeRow[];
  drains: readonly NodeDrainRow[];
  /** Every allocation of this job the state still holds. */
  jobAllocs: readonly AllocRow[];
  /** Live allocations of every other job (they hold resources and ports); or, from the loop, `cluster`. */
  otherLive?: readonly LiveAllocLite[];
  /**
   * Every live allocation of the cluster, kept by the loop (live-cluster.ts) over `nodes` and
   * `drains`: the main placement then schedules on its index instead of indexing a snapshot of
   * every allocation per evaluation. Either this or otherLive.
   */
  cluster?: LiveCluster;
  /** Deployments of this job, newest first. */
  deployments: readonly DeploymentRow[];
  preemption: boolean;
  newId: () => string;
}

export type CommitPlanBody = Omit<z.infer<typeof CommitPlan>, "at">;

export interface EvalOutcome {
  /** The scheduler's plan after the leader's rules (what the dry-run API shows). */
  plan: Plan;
  commit: CommitPlanBody;
  /** Per-allocation needs of the groups that could not be placed (EvalQueue.block). */
  needs: Resources[];
  /** Earliest time a held reschedule becomes due (a delayed evaluation is needed then). */
  retryAt?: number;
}

interface Held {
  key: string;
  retryAt?: number;
}

const slot = (group: string, index: number) => `${group}[${index}]`;

/**
 * What a replacement replaces: the same group index, or for system and
 * sysbatch jobs (one allocation per node, indexes mean nothing) the same node.
 */
function slotKeys(spec: Job) {
  const perNode = isSystemType(spec.type);
  return {
    ofAlloc: (a: Pick<AllocRow, "groupName" | "taskGroupIndex" | "nodeId">) => (perNode ? `${a.groupName}@${a.nodeId}` : slot(a.groupName, a.taskGroupIndex)),
    ofPlacement: (p: { group: string; taskGroupIndex: number; nodeId: string }) => (perNode ? `${p.group}@${p.nodeId}` : slot(p.group, p.taskGroupIndex)),
  };
}

export function evaluate(input: EvalInput): EvalOutcome {
  const spec = effectiveJob(input);
  const hashes = new Map(spec.groups.map((g) => [g.name, groupHash(spec, g)]));
  const dep = deploymentFor(input, spec);
  // Canaries (deployment-canary.ts): kept apart until promoted; their groups do not roll meanwhile.
  const canary = prepareCanaries(input, spec, hashes, dep);
  const original = input;
  input = canary.input;
  const replace = chooseUpdates(input, spec, hashes, dep?.id, canary.frozen);
  // An in-place update whose node no longer fits the new constraints is destructive (inplace-misfit.ts).
  const misfits = inPlaceMisfits(input, spec, hashes);
  for (const id of misfits.keys()) replace.add(id);
  const { held, next } = holdFailed(input, spec, hashes);
  const views = input.jobAllocs.map((a) => allocView(a, replace.has(a.id) || next.has(a.id) ? "failed" : undefined));
  // As in Nomad's defaults, system jobs may always preempt lower-priority work to get onto a node.
  const opts = { preemption: input.preemption || spec.type === "system" };
  // Canaries kept apart join the others under another name (deployment-canary.ts): only then is a list built.
  const plan = input.cluster && input.otherLive === undefined
    ? input.cluster.withJob(input.namespace, input.jobId, views, (index) => schedule(index, spec, input.evalId, opts))
    : schedule({ nodes: nodeViews(input.nodes, input.drains), allocations: [...otherLiveOf(input).map((a) => allocView(a)), ...views] }, spec, input.evalId, opts);

  const byId = new Map(input.jobAllocs.map((a) => [a.id, a]));
  for (const id of replace) {
    const a = byId.get(id)!;
    plan.stops.push({ allocId: a.id, nodeId: a.nodeId, namespace: a.namespace, jobId: a.jobId, group: a.groupName, reason: "count-lowered", message: misfits.get(id) ?? "replaced by a newer version of the job (rolling update)" });
  }
  dropHeld(plan, spec, new Set(held.map((h) => h.key)));
  if (!isSystemType(spec.type)) limitDrains(plan, input, spec);
  const canaries = placeCanaries(canary, original, spec, plan, { preemption: input.preemption });

  const commit = buildCommit(input, spec, plan, hashes, dep, byId, next);
  const inPlace = inPlaceUpdates(input.job, spec, hashes, input.jobAllocs, new Set([...plan.stops.map((s) => s.allocId), ...replace]));
  if (inPlace.length) Object.assign(commit, { v: 2, inPlace }); // v2: see jobs-commands.ts
  commitCanaries(commit, plan, canaries, canary, spec, hashes, dep?.id, input.newId);
  const retries = held.map((h) => h.retryAt).filter((t): t is number => t !== undefined);
  return { plan, commit, needs: plan.failedGroups.map((g) => g.resources), retryAt: retries.length ? Math.min(...retries) : undefined };
}

/** The job as scheduled: a stopped or purged job keeps no group, so all its allocations stop. */
function effectiveJob(input: EvalInput): Job {
  const j = input.job;
  // A periodic or parameterized job is a template: its launches (child jobs) run, it does not.
  if (j && !j.stop && !isTemplate(j.spec)) return j.spec;
  return { id: input.jobId, namespace: input.namespace, type: (j?.type as Job["type"]) ?? "service", priority: j?.priority ?? 50, constraints: [], groups: [] };
}

/** A periodic or parameterized parent job (children carry parentId and run). */
export function isTemplate(spec: Job): boolean {
  return spec.parentId === undefined && (spec.periodic !== undefined || spec.parameterized !== undefined);
}

/** The running deployment of the current version, or a new one when this service version has none yet. */
function deploymentFor(input: EvalInput, spec: Job): { id: string; isNew: boolean } | undefined {
  const j = input.job;
  if (!j || j.stop || spec.type !== "service") return undefined;
  const mine = input.deployments.find((d) => d.jobVersion === j.version);
  if (mine) return mine.status === "running" ? { id: mine.id, isNew: false } : undefined;
  return { id: input.newId(), isNew: true };
}

/** Outdated live allocations to replace now: per group, max_parallel minus those still unsettled. */
function chooseUpdates(input: EvalInput, spec: Job, hashes: Map<string, string>, depId: string | undefined, frozen: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  // system jobs roll without a deployment (as in Nomad): max_parallel nodes at a time, each until it runs.
  const perNode = isSystemType(spec.type);
  if (!depId && !perNode) return out;
  for (const g of spec.groups) {
    const live = input.jobAllocs.filter((a) => a.groupName === g.name && holdsResources(a));
    const outdated = live.filter((a) => a.groupHash !== hashes.get(g.name)).sort((a, b) => a.taskGroupIndex - b.taskGroupIndex);
    if (outdated.length === 0 || frozen.has(g.name)) continue;
    const mine = input.jobAllocs.filter((a) => a.groupName === g.name && (perNode ? a.groupHash === hashes.get(g.name) : a.deploymentId === depId));
    // A failure stops the rollout at once; the watcher then fails the deployment (and may revert).
    if (mine.some((a) => a.health === "unhealthy" || a.clientStatus === "failed")) continue;
    const inFlight = mine.filter((a) => holdsResources(a) && !settled(a)).length;
    const budget = Math.max(0, g.update.maxParallel - inFlight);
    for (const a of outdated.slice(0, budget)) out.add(a.id);
  }
  return out;
}

/**
 * Failed allocations not yet replaced: due ones are replaced now (`next`,
 * with their reschedule history); the others hold their slot. A failed
 * allocation of an older version is replaced by the current one at once:
 * that is the rollout (or a rollback), not a reschedule.
 */
function holdFailed(input: EvalInput, spec: Job, hashes: Map<string, string>): { held: Held[]; next: Map<string, number[]> } {
  const held: Held[] = [];
  const next = new Map<string, number[]>();
  const replaced = new Set(input.jobAllocs.map((a) => a.previousAlloc).filter(Boolean));
  const key = slotKeys(spec).ofAlloc;
  const liveSlots = new Set(input.jobAllocs.filter(holdsResources).map(key));
  for (const a of input.jobAllocs) {
    if (a.clientStatus !== "failed" || a.desiredStatus !== "run" || replaced.has(a.id)) continue;
    const g = spec.groups.find((x) => x.name === a.groupName);
    if (!g || liveSlots.has(key(a))) continue;
    if (a.groupHash !== hashes.get(g.name)) {
      next.set(a.id, a.reschedules);
      continue;
    }
    const d = rescheduleDecision(a, g.reschedule, input.now);
    if (d.kind === "now") next.set(a.id, d.reschedules);
    else held.push({ key: key(a), retryAt: d.kind === "later" ? d.at : undefined });
  }
  return { held, next };
}

/** Removes placements (and the evictions made for them) for slots that must not be filled now. */
function dropPlacements(plan: Plan, drop: (p: Plan["placements"][number]) => boolean): void {
  const victims = new Set<string>();
  plan.placements = plan.placements.filter((p) => {
    if (!drop(p)) return true;
    for (const v of p.preempted ?? []) victims.add(v);
    return false;
  });
  if (victims.size) plan.stops = plan.stops.filter((s) => !(s.reason === "preempted" && victims.has(s.allocId)));
}

function dropHeld(plan: Plan, spec: Job, held: ReadonlySet<string>): void {
  const key = slotKeys(spec).ofPlacement;
  if (held.size) dropPlacements(plan, (p) => held.has(key(p)));
}

/** Before its deadline a drain moves at most max_parallel unsettled allocations per group at a time. */
function limitDrains(plan: Plan, input: EvalInput, spec: Job): void {
  const drains = new Map(input.drains.map((d) => [d.nodeId, d]));
  const pastDeadline = (nodeId: string) => {
    const d = drains.get(nodeId);
    return d !== undefined && d.deadlineAt > 0 && input.now >= d.deadlineAt;
  };
  const byId = new Map(input.jobAllocs.map((a) => [a.id, a]));
  const kept = new Set<string>();
  const dropped = new Set<string>();
  for (const g of spec.groups) {
    const moving = plan.stops.filter((s) => s.reason === "node-draining" && s.group === g.name && !pastDeadline(s.nodeId));
    if (moving.length === 0) continue;
    const unsettled = input.jobAllocs.filter((a) => a.groupName === g.name && holdsResources(a) && !drains.has(a.nodeId) && !settled(a)).length;
    let budget = Math.max(0, g.update.maxParallel - unsettled);
    for (const s of moving.sort((a, b) => (byId.get(a.allocId)?.taskGroupIndex ?? 0) - (byId.get(b.allocId)?.taskGroupIndex ?? 0))) {
      if (budget-- > 0) kept.add(s.allocId);
      else dropped.add(s.allocId);
    }
  }
  if (dropped.size === 0) return;
  const slots = new Set([...dropped].map((id) => byId.get(id)).filter((a): a is AllocRow => !!a).map((a) => slot(a.groupName, a.taskGroupIndex)));
  plan.stops = plan.stops.filter((s) => !dropped.has(s.allocId));
  dropPlacements(plan, (p) => slots.has(slot(p.group, p.taskGroupIndex)));
}

function buildCommit(
  input: EvalInput, spec: Job, plan: Plan, hashes: Map<string, string>,
  dep: { id: string; isNew: boolean } | undefined, byId: Map<string, AllocRow>, next: Map<string, number[]>,
): CommitPlanBody {
  const active = input.job !== undefined && !input.job.stop;
  const keys = slotKeys(spec);
  const prevBySlot = new Map<string, AllocRow>();
  for (const s of plan.stops) {
    const a = byId.get(s.allocId);
    if (a && a.jobId === input.jobId && a.namespace === input.namespace) prevBySlot.set(keys.ofAlloc(a), a);
  }
  for (const id of next.keys()) {
    const a = byId.get(id)!;
    prevBySlot.set(keys.ofAlloc(a), a);
  }
  const placements: PlanPlacement[] = plan.placements.map((p) => {
    const prev = prevBySlot.get(keys.ofPlacement(p));
    return {
      id: input.newId(), group: p.group, taskGroupIndex: p.taskGroupIndex, nodeId: p.nodeId, resources: p.resources, ports: p.ports,
      groupHash: hashes.get(p.group)!, deploymentId: dep?.id ?? "",
      previousAlloc: prev?.id ?? "", reschedules: prev ? (next.get(prev.id) ?? prev.reschedules) : [],
    };
  });
  const stops: PlanStop[] = plan.stops.map((s) => stopOf(s, active ? undefined : "job stopped"));
  const blocked = plan.failedGroups.length > 0;
  const commit: CommitPlanBody = {
    type: "CommitPlan", v: 1, evalId: input.evalId, namespace: input.namespace, jobId: input.jobId,
    jobVersion: input.job ? input.job.version : -1, placements, stops,
    evalStatus: blocked ? "blocked" : "complete",
    evalDescription: blocked ? plan.failedGroups.map((g) => `${g.group}: ${g.missing} not placed`).join("; ") : "",
    failedGroups: plan.failedGroups,
  };
  if (dep?.isNew) {
    commit.deployment = { id: dep.id, groups: Object.fromEntries(spec.groups.map((g) => [g.name, { desired: g.count, autoRevert: g.update.autoRevert }])) };
  }
  return commit;
}

function stopOf(s: Stop, override: string | undefined): PlanStop {
  const out: PlanStop = { allocId: s.allocId, description: s.reason === "preempted" ? s.message : (override ?? s.message) };
  if (s.reason === "node-down") out.clientStatus = "lost";
  return out;
}
