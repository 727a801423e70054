// Commands of cluster resource management (jobs, evaluations, allocations,
// deployments, drains). Each is zod-validated before it is logged, so a
// malformed proposal (an agent's RPC included) never reaches an applier.
// Jobs travel normalized (core/scheduler/jobspec): the API parsed and
// validated the document; the schema here only guards the shape.
import { z } from "zod";
import type { Job } from "../../scheduler/jobspec/types.ts";
import { usesTaskStorage } from "../../scheduler/jobspec/task-storage.ts";
import { CONTAINER_USER_MAX } from "../../scheduler/container-user.ts";

const id = z.string().min(1).max(256);
const name = z.string().min(1).max(128);
/** A job id: a child job is "<parent>/periodic-<unix time>" or "<parent>/dispatch-<time>-<id>". */
const childName = z.string().min(1).max(256);

/** Largest dispatch payload, as Nomad (16 KiB). */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
const ms = z.number().int().nonnegative();
const resources = z.object({ cpuMhz: z.number().nonnegative(), memoryMb: z.number().nonnegative() });

const constraint = z.object({ attribute: z.string().max(512), operator: z.enum(["=", "!=", "regexp", "version", "distinct_hosts"]), value: z.string().max(1024) });
const check = z.object({
  name: z.string().max(256), type: z.enum(["http", "tcp", "grpc", "ttl"]), path: z.string().max(2048).optional(),
  grpcService: z.string().max(256).optional(), grpcUseTls: z.boolean().optional(),
  intervalMs: ms, timeoutMs: ms, ttlMs: ms.optional(),
});
const task = z.object({
  name, driver: z.enum(["exec", "raw_exec", "container"]), user: z.string().max(32).optional(),
  // Isolation (plugins/exec/sandbox.ts); absent on tasks of older entries = best-effort, host network.
  isolation: z.enum(["required", "best-effort"]).optional(), networkMode: z.enum(["host", "none"]).optional(),
  // A container task's command may be "" (the image's Cmd runs); the jobspec requires one for exec tasks.
  command: z.string().max(4096), args: z.array(z.string().max(65_536)).max(1024),
  // Every field of ContainerSpec: a key missing here is dropped from the job without a word (cap_drop lost = more privilege).
  container: z.object({
    image: z.string().min(1).max(512), entrypoint: z.array(z.string().max(65_536)).max(256).optional(), workDir: z.string().max(4096).optional(), user: z.string().max(CONTAINER_USER_MAX).optional(), readonlyRootfs: z.boolean(),
    privileged: z.boolean().optional(), capAdd: z.array(z.string().max(64)).max(64).optional(), capDrop: z.array(z.string().max(64)).max(64).optional(),
  }).optional(),
  env: z.record(z.string().max(256), z.string().max(65_536)), resources,
  ports: z.record(z.string().max(64), z.object({ static: z.number().int().min(1).max(65535).optional(), to: z.number().int().min(1).max(65535).optional() })),
  service: z.object({ name: z.string().max(63), tags: z.array(z.string().max(512)).max(64), port: z.string().max(64).optional(), checks: z.array(check).max(16) }).optional(),
  dispatchPayload: z.object({ file: z.string().min(1).max(256) }).optional(),
  /** A dispatched child's payload, base64 (at most MAX_PAYLOAD_BYTES decoded). */
  payload: z.string().max(Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4 + 4).optional(),
  lifecycle: z.object({ hook: z.enum(["prestart", "poststart", "poststop"]), sidecar: z.boolean() }).optional(),
  // Artifacts and volume mounts (core/scheduler/jobspec/task-storage.ts).
  artifacts: z.array(z.object({ source: z.string().max(4096), destination: z.string().max(1024), checksum: z.string().max(160).optional(), mode: z.enum(["any", "file", "dir"]) })).max(32).optional(),
  volumeMounts: z.array(z.object({ volume: z.string().max(64), destination: z.string().max(1024), readOnly: z.boolean() })).max(32).optional(),
  templates: z.array(z.object({
    data: z.string().max(64 * 1024), destination: z.string().min(1).max(256), env: z.boolean(),
    changeMode: z.enum(["restart", "signal", "noop", "script"]), changeSignal: z.string().max(16).optional(), splayMs: ms, perms: z.string().max(4),
    changeScript: z.object({ command: z.string().min(1).max(1024), args: z.array(z.string().max(4096)).max(64), timeoutMs: ms, failOnError: z.boolean() }).optional(),
  })).max(16).optional(),
});
const group = z.object({
  name, count: z.number().int().min(0).max(10_000),
  constraints: z.array(constraint).max(64),
  spread: z.array(z.object({ attribute: z.string().max(512), targets: z.array(z.object({ value: z.string().max(512), percent: z.number() })).max(64) })).max(8),
  restart: z.object({ attempts: z.number().int().nonnegative(), intervalMs: ms, delayMs: ms, mode: z.enum(["fail", "delay"]) }),
  reschedule: z.object({ attempts: z.number().int().nonnegative(), intervalMs: ms, delayMs: ms, unlimited: z.boolean() }),
  update: z.object({ maxParallel: z.number().int().min(0), minHealthyTimeMs: ms, healthyDeadlineMs: ms, autoRevert: z.boolean(), canary: z.number().int().min(0).max(10_000).optional(), autoPromote: z.boolean().optional() }),
  tasks: z.array(task).min(1).max(50),
  volumes: z.record(z.string().max(64), z.object({ type: z.literal("host"), source: z.string().max(64), readOnly: z.boolean() })).optional(),
});
/** A normalized job (what parseJobSpec returns). */
export const JobSchema: z.ZodType<Job> = z.object({
  id: childName, namespace: name, type: z.enum(["service", "batch", "system", "sysbatch"]), priority: z.number().int().min(1).max(100),
  constraints: z.array(constraint).max(64), groups: z.array(group).min(1).max(100),
  meta: z.record(z.string().max(128), z.string().max(65_536)).optional(),
  periodic: z.object({ crons: z.array(z.string().max(256)).min(1).max(16), timeZone: z.string().max(64), prohibitOverlap: z.boolean(), enabled: z.boolean() }).optional(),
  parameterized: z.object({ payload: z.enum(["optional", "required", "forbidden"]), metaRequired: z.array(z.string().max(128)).max(64), metaOptional: z.array(z.string().max(128)).max(64) }).optional(),
  parentId: name.optional(),
}) as z.ZodType<Job>;

const base = { v: z.literal(1), at: z.number() };
/**
 * RegisterJob v2 and CommitPlan v2 carry the job-versions fields
 * (enforceIndex, revert, keepVersions; inPlace). A release before them would
 * drop those fields and apply the entry differently, so an entry that uses
 * them is v2, which such a release refuses by name (command-versions.ts)
 * instead of diverging. Proposers pick the version with the functions below.
 */
const v1or2 = z.union([z.literal(1), z.literal(2)]);

/** A new job or a new version of one; creates its evaluation in the same entry. */
export const RegisterJob = z.object({
  type: z.literal("RegisterJob"), ...base, v: v1or2,
  job: JobSchema,
  evalId: id,
  /** Set when the leader re-registers an older version (auto_revert). */
  revertedFrom: z.number().int().nonnegative().optional(),
  /**
   * Optimistic concurrency (`job run --check-index N`, Nomad's EnforceIndex):
   * register only if the job's modify index (jobs.submitIndex) is still N;
   * 0 = only if the job does not exist. Checked by the applier (job-guards.ts).
   */
  enforceIndex: z.number().int().nonnegative().optional(),
  /** `job revert`: the version whose spec this is (the eval says so), and EnforcePriorVersion. */
  revert: z.object({ toVersion: z.number().int().nonnegative(), priorVersion: z.number().int().nonnegative().optional() }).optional(),
  /** How many versions the job keeps (leader.job_tracked_versions, set by the proposer); absent = JOB_STATE_LIMITS.versions. */
  keepVersions: z.number().int().min(1).max(1000).optional(),
});

/** Stop a job (its allocations are stopped by the evaluation); purge also forgets it. */
export const DeregisterJob = z.object({
  /** v2: the stop also moves the job modify index (check-index); v1 entries apply as the previous release did. */
  type: z.literal("DeregisterJob"), ...base, v: v1or2,
  namespace: name, jobId: childName, purge: z.boolean().default(false), evalId: id,
});

const portAssignment = z.object({ task: name, label: z.string().max(64), value: z.number().int().min(1).max(65535), static: z.boolean() });

export const PlanPlacement = z.object({
  id, group: name, taskGroupIndex: z.number().int().nonnegative(), nodeId: id,
  resources, ports: z.array(portAssignment).max(2048),
  groupHash: z.string().max(128),
  deploymentId: z.string().max(256),
  previousAlloc: z.string().max(256),
  reschedules: z.array(z.number()).max(1000),
  /** A canary of its deployment: placed beside the old allocations, kept apart until promoted (deployment-canary.ts). */
  canary: z.boolean().optional(),
});
export type PlanPlacement = z.infer<typeof PlanPlacement>;

export const PlanStop = z.object({
  allocId: id,
  /** "lost" for allocations of a node that went down; absent leaves the client status to the agent. */
  clientStatus: z.literal("lost").optional(),
  description: z.string().max(1024),
});
export type PlanStop = z.infer<typeof PlanStop>;

/**
 * The outcome of one evaluation, applied atomically. The applier verifies
 * that every placement still fits its node (Nomad's plan applier) and refuses
 * the whole plan otherwise: the leader then re-plans from fresh state.
 */
export const CommitPlan = z.object({
  type: z.literal("CommitPlan"), ...base,
  /** 2: the plan carries in-place updates or canary data (a placement's `canary`, a deployment's `canaries`), which a release before them would drop: it must stop instead (command-versions.ts). */
  v: v1or2,
  evalId: id, namespace: name, jobId: childName,
  /** Version of the job the plan was computed for (-1: the job is gone). */
  jobVersion: z.number().int().min(-1),
  placements: z.array(PlanPlacement).max(10_000),
  stops: z.array(PlanStop).max(100_000),
  evalStatus: z.enum(["complete", "blocked"]),
  evalDescription: z.string().max(1024),
  failedGroups: z.array(z.unknown()).max(100),
  /**
   * Live allocations whose tasks did not change: moved to the plan's job
   * version (group spec, priority) without a restart (in-place update).
   */
  inPlace: z.array(id).max(100_000).optional(),
  /** A deployment to open (rolling update) with this plan. */
  deployment: z.object({ id, groups: z.record(name, z.object({ desired: z.number().int(), autoRevert: z.boolean(), canaries: z.number().int().min(0).max(10_000).optional(), autoPromote: z.boolean().optional() })) }).optional(),
});

const taskState = z.object({
  state: z.enum(["pending", "running", "dead"]), failed: z.boolean(), restarts: z.number().int().nonnegative(),
  oom: z.boolean(), ooms: z.number().int().nonnegative(), exitCode: z.number().int().nullable(),
  startedAt: z.number(), finishedAt: z.number(),
  events: z.array(z.object({ at: z.number(), type: z.string().max(64), message: z.string().max(1024) })).max(32),
});

/** Most agents' reports one UpdateAllocStatus v2 entry carries (core/cluster/raft/status-report-batch.ts). */
export const MAX_REPORTS_PER_ENTRY = 256;
/** Most updates one UpdateAllocStatus entry carries, v1 or v2: one agent's report may carry as many. */
export const MAX_UPDATES_PER_ENTRY = 1000;

const allocStatusUpdates = z.array(z.object({
  allocId: id,
  clientStatus: z.enum(["pending", "running", "complete", "failed"]),
  description: z.string().max(1024),
  taskStates: z.record(name, taskState),
})).min(1).max(MAX_UPDATES_PER_ENTRY);

/**
 * An agent reports changes of its allocations (transitions only).
 * v1 (what agents propose): one agent's report, `nodeId` and `updates`.
 * v2 (written by the leader only): several agents' v1 reports that reached it at
 * once, in `reports`, each with its agent's timestamp; applied as the v1 entries
 * would be one after another (alloc-status.ts). A release before v2 stops on it by
 * name (command-versions.ts) rather than skip it.
 */
export const UpdateAllocStatus = z.object({
  type: z.literal("UpdateAllocStatus"), v: v1or2, at: z.number(),
  nodeId: id.optional(),
  updates: allocStatusUpdates.optional(),
  reports: z.array(z.object({ nodeId: id, at: z.number(), updates: allocStatusUpdates })).min(1).max(MAX_REPORTS_PER_ENTRY).optional(),
}).superRefine((c, ctx) => {
  const v1 = c.nodeId !== undefined && c.updates !== undefined && c.reports === undefined;
  const v2 = c.nodeId === undefined && c.updates === undefined && c.reports !== undefined;
  if (c.v === 1 && !v1) ctx.addIssue({ code: "custom", message: "UpdateAllocStatus v1 carries nodeId and updates (and no reports)" });
  if (c.v === 2 && !v2) ctx.addIssue({ code: "custom", message: "UpdateAllocStatus v2 carries reports (and no nodeId or updates)" });
  const total = c.reports?.reduce((n, r) => n + r.updates.length, 0) ?? 0;
  if (total > MAX_UPDATES_PER_ENTRY) ctx.addIssue({ code: "custom", message: `UpdateAllocStatus v2 carries at most ${MAX_UPDATES_PER_ENTRY} updates in all` });
});

export type AllocStatusReport = { nodeId: string; at: number; updates: z.infer<typeof allocStatusUpdates> };

/** The agents' reports an UpdateAllocStatus entry carries, in the order they apply: one for v1, several for v2. */
export function statusReportsOf(c: z.infer<typeof UpdateAllocStatus>): AllocStatusReport[] {
  return c.reports ?? [{ nodeId: c.nodeId!, at: c.at, updates: c.updates! }];
}

export const EvalUpdate = z.object({
  id, namespace: name, jobId: childName, priority: z.number().int().min(1).max(100),
  triggeredBy: z.string().max(64), nodeId: z.string().max(256).default(""),
  status: z.enum(["pending", "blocked", "complete", "failed", "canceled"]),
  description: z.string().max(1024).default(""),
  waitUntil: ms.default(0),
});
export type EvalUpdate = z.infer<typeof EvalUpdate>;

/** Create evaluations (node events, failures, delayed reschedules) or change their status. */
export const UpdateEvaluation = z.object({ type: z.literal("UpdateEvaluation"), ...base, evals: z.array(EvalUpdate).min(1).max(10_000) });

/** Deployment progress from the leader's health watcher. */
export const UpdateDeployment = z.object({
  type: z.literal("UpdateDeployment"), ...base,
  health: z.array(z.object({ allocId: id, healthy: z.boolean(), description: z.string().max(1024) })).max(10_000),
  deployments: z.array(z.object({ id, status: z.enum(["running", "successful", "failed", "cancelled"]), description: z.string().max(1024) })).max(100),
});

/** Start (enable) or cancel a drain of a node. */
export const DrainNode = z.object({
  type: z.literal("DrainNode"), ...base,
  nodeId: id, enable: z.boolean(),
  /** Milliseconds after `at` when the remaining allocations are stopped at once; 0 = none. */
  deadlineMs: ms.default(0),
});

export const jobCommands = [RegisterJob, DeregisterJob, CommitPlan, UpdateAllocStatus, UpdateEvaluation, UpdateDeployment, DrainNode] as const;

/** Bounds on what the state keeps per job (older rows are garbage-collected by appliers). */
export const JOB_STATE_LIMITS = {
  versions: 10,
  terminalAllocs: 200,
  finishedEvals: 50,
  finishedDeployments: 10,
} as const;

/** What a RegisterJob proposal adds for job versions, with the entry version that carries it (v1 when nothing). */
export function registerJobExtras(x: { enforceIndex?: number; revert?: { toVersion: number; priorVersion?: number }; keepVersions?: number; job?: Job }): {
  v: 1 | 2; enforceIndex?: number; revert?: { toVersion: number; priorVersion?: number }; keepVersions?: number;
} {
  const out: ReturnType<typeof registerJobExtras> = { v: 1 };
  if (x.enforceIndex !== undefined) out.enforceIndex = x.enforceIndex;
  if (x.revert !== undefined) out.revert = x.revert;
  // The default needs no field: entries stay v1 (readable by the previous release) unless configured otherwise.
  if (x.keepVersions !== undefined && x.keepVersions !== JOB_STATE_LIMITS.versions) out.keepVersions = x.keepVersions;
  if (Object.keys(out).length > 1 || (x.job !== undefined && (specNeedsV2(x.job) || usesTaskStorage(x.job)))) out.v = 2;
  return out;
}

/**
 * Whether a job spec uses a key the previous release does not know (canary
 * updates, lifecycle hooks, isolation, container privileges and user): its parser would drop the key and
 * that replica would run a different job than the others, so the entry goes
 * out as v2 and an older node stops instead (command-versions.ts).
 */
export function specNeedsV2(job: Job): boolean {
  return job.groups.some((g) =>
    g.update.canary !== undefined || g.update.autoPromote !== undefined ||
    g.tasks.some((t) => t.lifecycle !== undefined || t.isolation !== undefined || t.networkMode !== undefined || t.templates !== undefined ||
      // privileged, cap_add, cap_drop: an older node would run the container without them (a dropped cap_drop = more privilege);
      // user: without it an older node runs the image's User, root for most images.
      t.container?.privileged !== undefined || t.container?.capAdd !== undefined || t.container?.capDrop !== undefined || t.container?.user !== undefined));
}
