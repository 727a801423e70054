// Tables of cluster resource management (jobs, evaluations, allocations,
// deployments, node drains). Re-exported by schema.ts; the SQL is
// core/store/migration-jobs.ts, appended to migrations.ts. JSON columns hold plain data the appliers wrote;
// their shapes are the exported interfaces below.
import { sqliteTable, text, integer, primaryKey, index } from "drizzle-orm/sqlite-core";
import type { Job, TaskGroup } from "../scheduler/jobspec/types.ts";
import type { FailedGroup, PortAssignment, Resources } from "../scheduler/types.ts";

/** One row per job (namespace, id): its current version. */
export const jobs = sqliteTable(
  "jobs",
  {
    namespace: text("namespace").notNull(),
    id: text("id").notNull(),
    type: text("type").notNull(), // "service" | "batch"
    priority: integer("priority").notNull(),
    version: integer("version").notNull(),
    /** "pending" (nothing placed yet), "running" (live allocations), "dead" (stopped, or a batch job that finished). */
    status: text("status").notNull(),
    stop: integer("stop", { mode: "boolean" }).notNull(),
    spec: text("spec", { mode: "json" }).$type<Job>().notNull(),
    /** Last version whose rollout succeeded (auto_revert goes back to it); null before the first. */
    stableVersion: integer("stable_version"),
    submitIndex: integer("submit_index").notNull(),
    submittedAt: integer("submitted_at").notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.id] })],
);
export type JobRow = typeof jobs.$inferSelect;

/** Earlier versions of a job's spec (the last few), for auto_revert and `job status`. */
export const jobVersions = sqliteTable(
  "job_versions",
  {
    namespace: text("namespace").notNull(),
    jobId: text("job_id").notNull(),
    version: integer("version").notNull(),
    spec: text("spec", { mode: "json" }).$type<Job>().notNull(),
    submitIndex: integer("submit_index").notNull(),
    /** The RegisterJob command's time (ms), the same on every replica; 0 when unknown (kept from before it was recorded). */
    submittedAt: integer("submitted_at").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.jobId, t.version] })],
);

export type EvalStatus = "pending" | "blocked" | "complete" | "failed" | "canceled";

export const evaluations = sqliteTable(
  "evaluations",
  {
    id: text("id").primaryKey(),
    namespace: text("namespace").notNull(),
    jobId: text("job_id").notNull(),
    priority: integer("priority").notNull(),
    /** job-register, job-deregister, node-update, node-drain, alloc-failure, deployment-watcher, reschedule, capacity... */
    triggeredBy: text("triggered_by").notNull(),
    /** The node whose change triggered it ("" otherwise). */
    nodeId: text("node_id").notNull(),
    status: text("status").$type<EvalStatus>().notNull(),
    statusDescription: text("status_description").notNull(),
    /** Groups the last plan could not place, with the reasons (scheduler's FailedGroup). */
    failedGroups: text("failed_groups", { mode: "json" }).$type<FailedGroup[]>().notNull(),
    /** Not to be run before this time (ms epoch; 0 = now): delayed reschedules. */
    waitUntil: integer("wait_until").notNull(),
    createdAt: integer("created_at").notNull(),
    modifiedAt: integer("modified_at").notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [index("evaluations_job").on(t.namespace, t.jobId), index("evaluations_status").on(t.status)],
);
export type EvalRow = typeof evaluations.$inferSelect;

export type ClientStatus = "pending" | "running" | "complete" | "failed" | "lost";

/** What an agent reports about one task of an allocation. */
export interface TaskState {
  state: "pending" | "running" | "dead";
  failed: boolean;
  restarts: number;
  /** The last exit was a kill for exceeding the memory limit. */
  oom: boolean;
  ooms: number;
  exitCode: number | null;
  /** ms epoch (agent clock) the current process started; 0 when not started. */
  startedAt: number;
  finishedAt: number;
  /** The latest few events, newest last. */
  events: { at: number; type: string; message: string }[];
}

export const allocations = sqliteTable(
  "allocations",
  {
    id: text("id").primaryKey(),
    namespace: text("namespace").notNull(),
    jobId: text("job_id").notNull(),
    jobVersion: integer("job_version").notNull(),
    jobType: text("job_type").notNull(),
    groupName: text("group_name").notNull(),
    taskGroupIndex: integer("task_group_index").notNull(),
    /** Hash of the group's task definitions: an allocation with another hash is outdated (rolling update). */
    groupHash: text("group_hash").notNull(),
    /** The group as it was when placed: what the agent runs. */
    groupSpec: text("group_spec", { mode: "json" }).$type<TaskGroup>().notNull(),
    nodeId: text("node_id").notNull(),
    evalId: text("eval_id").notNull(),
    priority: integer("priority").notNull(),
    resources: text("resources", { mode: "json" }).$type<Resources>().notNull(),
    ports: text("ports", { mode: "json" }).$type<PortAssignment[]>().notNull(),
    desiredStatus: text("desired_status").$type<"run" | "stop">().notNull(),
    desiredDescription: text("desired_description").notNull(),
    clientStatus: text("client_status").$type<ClientStatus>().notNull(),
    clientDescription: text("client_description").notNull(),
    taskStates: text("task_states", { mode: "json" }).$type<Record<string, TaskState>>().notNull(),
    /** "" (not decided), "healthy" or "unhealthy" (deployment health). */
    health: text("health").notNull(),
    deploymentId: text("deployment_id").notNull(),
    /** The allocation this one replaces ("" for a first placement). */
    previousAlloc: text("previous_alloc").notNull(),
    /** Times (ms) of the reschedules that led to this allocation, oldest first (reschedule policy). */
    reschedules: text("reschedules", { mode: "json" }).$type<number[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    modifiedAt: integer("modified_at").notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [index("allocations_node").on(t.nodeId), index("allocations_job").on(t.namespace, t.jobId)],
);
export type AllocRow = typeof allocations.$inferSelect;

export interface DeploymentGroup {
  desired: number;
  placed: number;
  healthy: number;
  unhealthy: number;
  autoRevert: boolean;
  /** Canary deployments (absent on rolling updates without canaries): how many canaries, the ids placed, promoted yet. */
  desiredCanaries?: number;
  placedCanaries?: string[];
  promoted?: boolean;
  autoPromote?: boolean;
}

export const deployments = sqliteTable(
  "deployments",
  {
    id: text("id").primaryKey(),
    namespace: text("namespace").notNull(),
    jobId: text("job_id").notNull(),
    jobVersion: integer("job_version").notNull(),
    /** "running", "successful", "failed", "cancelled". */
    status: text("status").notNull(),
    statusDescription: text("status_description").notNull(),
    groups: text("groups", { mode: "json" }).$type<Record<string, DeploymentGroup>>().notNull(),
    createdAt: integer("created_at").notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [index("deployments_job").on(t.namespace, t.jobId)],
);
export type DeploymentRow = typeof deployments.$inferSelect;

/** Nodes being drained: no new placements; their allocations migrate elsewhere. */
export const nodeDrains = sqliteTable("node_drains", {
  nodeId: text("node_id").primaryKey(),
  startedAt: integer("started_at").notNull(),
  /** ms epoch after which the remaining allocations are stopped at once; 0 = no deadline. */
  deadlineAt: integer("deadline_at").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
});
export type NodeDrainRow = typeof nodeDrains.$inferSelect;

/** Resources as the scheduler counts them. */
export type { Resources };

/**
 * Launches of periodic and parameterized jobs: one row per launch, so a
 * launch is decided once through the log. kind "periodic": key is the launch
 * time (unix seconds); kind "dispatch": key is the idempotency token (or the
 * child id when none was given).
 */
export const jobLaunches = sqliteTable(
  "job_launches",
  {
    namespace: text("namespace").notNull(),
    jobId: text("job_id").notNull(),
    kind: text("kind").notNull(),
    key: text("key").notNull(),
    childId: text("child_id").notNull(),
    launchedAt: integer("launched_at").notNull(),
    createIndex: integer("create_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.namespace, t.jobId, t.kind, t.key] })],
);
export type JobLaunchRow = typeof jobLaunches.$inferSelect;
