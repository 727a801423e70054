// Reads of jobs, evaluations, allocations, deployments and drains, for the
// API, the leader's scheduling loop and agents (allocations by node, with a
// per-node index for blocking queries).
import { and, asc, desc, eq, inArray, like, sql } from "drizzle-orm";
import type { Db } from "../../store/db.ts";
import { checks } from "../../store/schema.ts";
import {
  allocations, deployments, evaluations, jobs, jobVersions,
  type AllocRow, type DeploymentRow, type JobLaunchRow, type EvalRow, type EvalStatus, type JobRow, type NodeDrainRow,
} from "../../store/schema-jobs.ts";
import type { Job } from "../../scheduler/jobspec/types.ts";
import { listLaunches } from "./launches.ts";
import { nodeAllocDeleteIndex } from "./alloc-delete.ts";
import { gcCandidates, type GcCandidates, type GcCutoffs } from "./gc.ts";
import { allocDeletionNodesSince, allocsLeanChangedSince, allocsLiteChangedSince, liveAllocsLiteOnNode, nodeAllocStamps } from "./alloc-changes.ts";
import {
  allDrains, allocById, allocsByJob, allocsByJobLean, allocsByNode, evalById, healthCandidatesLean, jobById, maxAllocIndexOnNode,
} from "./jobs-prepared.ts";

/** Every state table of this domain (blocking queries wait on these). */
export const JOB_TABLES = ["jobs", "job_versions", "evaluations", "allocations", "deployments", "node_drains", "job_launches"] as const;

/** The catalog service id of a task's service: the agent registers it, the leader reads its checks. */
export function taskServiceId(allocId: string, task: string): string {
  return `_corral-task-${allocId}-${task}`;
}

/** What the scheduler needs of another job's live allocation: no task specs or states to decode. */
export type LiveAllocLite = Pick<AllocRow,
  "id" | "jobId" | "namespace" | "groupName" | "nodeId" | "priority" | "resources" | "ports" | "desiredStatus" | "clientStatus" | "taskGroupIndex">;

/** An allocation without its group spec (the health watcher's reads). */
export type AllocLean = Omit<AllocRow, "groupSpec">;

export interface AllocFilter {
  namespace?: string;
  jobId?: string;
  nodeId?: string;
}

export interface JobsReader {
  listJobs(namespace?: string): JobRow[];
  getJob(namespace: string, id: string): JobRow | undefined;
  jobVersion(namespace: string, id: string, version: number): Job | undefined;
  /** When a kept version was submitted (ms; 0: unknown), undefined when the version is not kept. */
  jobVersionSubmittedAt(namespace: string, id: string, version: number): number | undefined;
  listAllocs(filter?: AllocFilter): AllocRow[];
  /** By full id, or by a unique prefix of at least 4 characters. */
  getAlloc(idOrPrefix: string): AllocRow | undefined;
  /** Allocations that hold resources (wanted running, not finished). */
  liveAllocs(): AllocRow[];
  /**
   * liveAllocs with only the columns placement reads: every evaluation reads every live
   * allocation, and decoding each one's group spec and task states was most of that read.
   */
  liveAllocsLite(): LiveAllocLite[];
  /**
   * What changed since `index` (alloc-changes.ts), for readers that keep the live allocations
   * in memory: every allocation written after it (any status), and the nodes that lost rows
   * to a deletion after it.
   */
  allocsChangedSince(index: number): { changed: LiveAllocLite[]; deletedOnNodes: string[] };
  /** allocsChangedSince with every column but the group spec (the health watcher). */
  allocsLeanChangedSince(index: number): { changed: AllocLean[]; deletedOnNodes: string[] };
  /** A node's allocations as id, job and modify index only (listAllocs' order): which changed since an answer. */
  nodeAllocStamps(nodeId: string): { id: string; jobId: string; modifyIndex: number }[];
  /** Index of the last entry that deleted one of the node's allocations; 0 when none did (nodeAllocIndex is the larger of this and its rows' modify indexes). */
  nodeAllocDeleteIndex(nodeId: string): number;
  /** One node's live allocations, placement columns only. */
  liveAllocsLiteOnNode(nodeId: string): LiveAllocLite[];
  /** Highest modify index of the allocations on a node, or of the last deletion of one (agents block on it); at least 1. */
  nodeAllocIndex(nodeId: string): number;
  listEvals(filter?: { namespace?: string; jobId?: string; status?: EvalStatus[] }): EvalRow[];
  getEval(id: string): EvalRow | undefined;
  listDeployments(filter?: { namespace?: string; jobId?: string; status?: string }): DeploymentRow[];
  drains(): NodeDrainRow[];
  /** Catalog check statuses of an allocation's task services ("passing", "warning", "critical"). */
  allocCheckStatuses(nodeId: string, allocId: string): string[];
  /**
   * allocCheckStatuses for many allocations from one read of every task check: the health
   * watcher asks for each live allocation every second, one query each cost O(allocations) queries.
   */
  taskCheckStatuses(): (nodeId: string, allocId: string) => string[];
  /** Live service allocations without a health verdict yet (the health watcher's candidates), without group specs. */
  healthCandidates(): AllocLean[];
  /** A job's allocations without group specs (deployment outcomes, every health tick). */
  jobAllocsLean(namespace: string, jobId: string): AllocLean[];
  /** Launch records of a periodic or parameterized job, newest first (kind: periodic, periodic-force, dispatch). */
  launches(namespace: string, jobId: string, kind?: string): JobLaunchRow[];
  /** What garbage collection may delete under these cut-off indexes (core/state/domains/gc.ts). */
  gcCandidates(cut: GcCutoffs): GcCandidates;
}

export function createJobsReader(db: Db): JobsReader {
  const filterAllocs = (f: AllocFilter = {}) =>
    and(
      f.namespace !== undefined ? eq(allocations.namespace, f.namespace) : undefined,
      f.jobId !== undefined ? eq(allocations.jobId, f.jobId) : undefined,
      f.nodeId !== undefined ? eq(allocations.nodeId, f.nodeId) : undefined,
    );
  return {
    listJobs: (ns) => db.select().from(jobs).where(ns !== undefined ? eq(jobs.namespace, ns) : undefined).orderBy(asc(jobs.namespace), asc(jobs.id)).all(),
    getJob: (ns, id) => jobById(db).get({ namespace: ns, id }),
    jobVersion: (ns, id, v) =>
      db.select({ spec: jobVersions.spec }).from(jobVersions)
        .where(and(eq(jobVersions.namespace, ns), eq(jobVersions.jobId, id), eq(jobVersions.version, v))).get()?.spec,
    jobVersionSubmittedAt: (ns, id, v) =>
      db.select({ at: jobVersions.submittedAt }).from(jobVersions)
        .where(and(eq(jobVersions.namespace, ns), eq(jobVersions.jobId, id), eq(jobVersions.version, v))).get()?.at,
    listAllocs: (f = {}) => {
      // The two hot shapes (an agent's node, a job being evaluated) run prepared statements.
      if (f.nodeId !== undefined && f.namespace === undefined && f.jobId === undefined) return allocsByNode(db).all({ nodeId: f.nodeId });
      if (f.nodeId === undefined && f.namespace !== undefined && f.jobId !== undefined) return allocsByJob(db).all({ namespace: f.namespace, jobId: f.jobId });
      return db.select().from(allocations).where(filterAllocs(f)).orderBy(asc(allocations.createIndex), asc(allocations.id)).all();
    },
    getAlloc: (idOrPrefix) => {
      const exact = allocById(db).get({ id: idOrPrefix });
      if (exact || idOrPrefix.length < 4) return exact;
      const escaped = idOrPrefix.replace(/[\\%_]/g, (c) => "\\" + c);
      const found = db.select().from(allocations).where(sql`${allocations.id} LIKE ${escaped + "%"} ESCAPE '\\'`).limit(2).all();
      return found.length === 1 ? found[0] : undefined;
    },
    liveAllocs: () =>
      db.select().from(allocations)
        .where(and(eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"]))).all(),
    liveAllocsLite: () =>
      db.select({
        id: allocations.id, jobId: allocations.jobId, namespace: allocations.namespace, groupName: allocations.groupName,
        nodeId: allocations.nodeId, priority: allocations.priority, resources: allocations.resources, ports: allocations.ports,
        desiredStatus: allocations.desiredStatus, clientStatus: allocations.clientStatus, taskGroupIndex: allocations.taskGroupIndex,
      }).from(allocations)
        .where(and(eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"]))).all(),
    allocsChangedSince: (index) => ({ changed: allocsLiteChangedSince(db).all({ index }), deletedOnNodes: allocDeletionNodesSince(db, index) }),
    allocsLeanChangedSince: (index) => ({ changed: allocsLeanChangedSince(db).all({ index }), deletedOnNodes: allocDeletionNodesSince(db, index) }),
    nodeAllocStamps: (nodeId) => nodeAllocStamps(db).all({ nodeId }),
    nodeAllocDeleteIndex: (nodeId) => nodeAllocDeleteIndex(db, nodeId),
    liveAllocsLiteOnNode: (nodeId) => liveAllocsLiteOnNode(db).all({ nodeId }),
    // A deletion moves it too (alloc-delete.ts): an agent blocked on its allocations learns of a purge at once.
    nodeAllocIndex: (nodeId) =>
      Math.max(1, nodeAllocDeleteIndex(db, nodeId),
        maxAllocIndexOnNode(db).get({ nodeId })?.m ?? 0),
    listEvals: (f = {}) =>
      db.select().from(evaluations).where(and(
        f.namespace !== undefined ? eq(evaluations.namespace, f.namespace) : undefined,
        f.jobId !== undefined ? eq(evaluations.jobId, f.jobId) : undefined,
        f.status ? inArray(evaluations.status, f.status) : undefined,
      )).orderBy(desc(evaluations.createIndex)).all(),
    getEval: (id) => evalById(db).get({ id }),
    listDeployments: (f = {}) =>
      db.select().from(deployments).where(and(
        f.namespace !== undefined ? eq(deployments.namespace, f.namespace) : undefined,
        f.jobId !== undefined ? eq(deployments.jobId, f.jobId) : undefined,
        f.status !== undefined ? eq(deployments.status, f.status) : undefined,
      )).orderBy(desc(deployments.createIndex)).all(),
    drains: () => allDrains(db).all(),
    allocCheckStatuses: (nodeId, allocId) =>
      db.select({ status: checks.status }).from(checks)
        .where(and(eq(checks.nodeId, nodeId), like(checks.serviceId, `_corral-task-${allocId}-%`))).all().map((r) => r.status),
    taskCheckStatuses: () => {
      const byNode = new Map<string, { serviceId: string; status: string }[]>();
      const rows = db.select({ nodeId: checks.nodeId, serviceId: checks.serviceId, status: checks.status }).from(checks)
        .where(like(checks.serviceId, "_corral-task-%")).all();
      for (const r of rows) {
        let list = byNode.get(r.nodeId);
        if (!list) byNode.set(r.nodeId, (list = []));
        list.push(r);
      }
      // The same match as allocCheckStatuses' LIKE, whose "_" matches any one character.
      return (nodeId, allocId) => {
        const tail = `corral-task-${allocId}-`;
        return (byNode.get(nodeId) ?? []).filter((r) => r.serviceId.length > tail.length && r.serviceId.startsWith(tail, 1)).map((r) => r.status);
      };
    },
    healthCandidates: () => healthCandidatesLean(db).all(),
    jobAllocsLean: (ns, id) => allocsByJobLean(db).all({ namespace: ns, jobId: id }),
    launches: (ns, id, kind) => listLaunches(db, ns, id, kind),
    gcCandidates: (cut) => gcCandidates(db, cut),
  };
}

/** For agents, which hold no replicated state. */
export const emptyJobsReader: JobsReader = {
  listJobs: () => [],
  getJob: () => undefined,
  jobVersion: () => undefined,
  jobVersionSubmittedAt: () => undefined,
  listAllocs: () => [],
  getAlloc: () => undefined,
  liveAllocs: () => [],
  liveAllocsLite: () => [],
  allocsChangedSince: () => ({ changed: [], deletedOnNodes: [] }),
  allocsLeanChangedSince: () => ({ changed: [], deletedOnNodes: [] }),
  nodeAllocStamps: () => [],
  nodeAllocDeleteIndex: () => 0,
  liveAllocsLiteOnNode: () => [],
  nodeAllocIndex: () => 1,
  listEvals: () => [],
  getEval: () => undefined,
  listDeployments: () => [],
  drains: () => [],
  allocCheckStatuses: () => [],
  taskCheckStatuses: () => () => [],
  healthCandidates: () => [],
  jobAllocsLean: () => [],
  launches: () => [],
  gcCandidates: () => ({ jobs: [], evals: [], allocs: [], deployments: [], nodes: [] }),
};
