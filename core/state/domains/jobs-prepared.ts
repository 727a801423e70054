// The placement path's queries, each built and prepared once per database
// handle (core/store/prepared.ts): the reads the API, agents and scheduler
// repeat per allocation (an allocation, a job, a node, a node's allocations)
// and the appliers' statements repeated per placement and per status report
// (plan verification, allocation inserts and status updates, job-status
// refreshes, per-job garbage collection). Values are drizzle placeholders
// filled on each run; rows decode exactly as the ad-hoc queries did.
import { and, asc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import { preparedQuery } from "../../store/prepared.ts";
import { nodes } from "../../store/schema.ts";
import { allocations, deployments, evaluations, jobs, nodeDrains } from "../../store/schema-jobs.ts";

/**
 * A placeholder where drizzle's types want the column's value (update SETs):
 * at run time drizzle wraps it with the column's encoder (JSON columns are
 * stringified) exactly as it wraps a value, and fills it on each run.
 */
function slot<T>(name: string): T {
  return sql.placeholder(name) as unknown as T;
}

const p = sql.placeholder;

// --- reads -------------------------------------------------------------------

export const allocById = preparedQuery((db) => db.select().from(allocations).where(eq(allocations.id, p("id"))).prepare());

export const allocIdExists = preparedQuery((db) =>
  db.select({ id: allocations.id }).from(allocations).where(eq(allocations.id, p("id"))).prepare());

/** What a status report compares and needs: no group spec to decode per report. */
export const allocForReport = preparedQuery((db) =>
  db.select({
    nodeId: allocations.nodeId, namespace: allocations.namespace, jobId: allocations.jobId,
    clientStatus: allocations.clientStatus, clientDescription: allocations.clientDescription, taskStates: allocations.taskStates,
  }).from(allocations).where(eq(allocations.id, p("id"))).prepare());

/** What a health verdict checks (UpdateDeployment). */
export const allocHealthFields = preparedQuery((db) =>
  db.select({ health: allocations.health, deploymentId: allocations.deploymentId, group: allocations.groupName })
    .from(allocations).where(eq(allocations.id, p("id"))).prepare());

/** Every column but the group spec: the health watcher's reads, every second, need no task definitions. */
const { groupSpec: _groupSpec, ...leanColumns } = getTableColumns(allocations);

export const allocsByJobLean = preparedQuery((db) =>
  db.select(leanColumns).from(allocations).where(and(eq(allocations.namespace, p("namespace")), eq(allocations.jobId, p("jobId"))))
    .orderBy(asc(allocations.createIndex), asc(allocations.id)).prepare());

/** Live service allocations without a health verdict (the health watcher's candidates). */
export const healthCandidatesLean = preparedQuery((db) =>
  db.select(leanColumns).from(allocations).where(and(
    eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"]),
    eq(allocations.health, ""), eq(allocations.jobType, "service"),
  )).prepare());

export const allocsByNode = preparedQuery((db) =>
  db.select().from(allocations).where(eq(allocations.nodeId, p("nodeId")))
    .orderBy(asc(allocations.createIndex), asc(allocations.id)).prepare());

export const allocsByJob = preparedQuery((db) =>
  db.select().from(allocations).where(and(eq(allocations.namespace, p("namespace")), eq(allocations.jobId, p("jobId"))))
    .orderBy(asc(allocations.createIndex), asc(allocations.id)).prepare());

/** A node's allocations that hold resources, with only what plan verification counts. */
export const liveUsageOnNode = preparedQuery((db) =>
  db.select({ id: allocations.id, resources: allocations.resources, ports: allocations.ports }).from(allocations)
    .where(and(eq(allocations.nodeId, p("nodeId")), eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"])))
    .prepare());

export const maxAllocIndexOnNode = preparedQuery((db) =>
  db.select({ m: sql<number | null>`max(${allocations.modifyIndex})` }).from(allocations).where(eq(allocations.nodeId, p("nodeId"))).prepare());

export const jobById = preparedQuery((db) =>
  db.select().from(jobs).where(and(eq(jobs.namespace, p("namespace")), eq(jobs.id, p("id")))).prepare());

export const jobExists = preparedQuery((db) =>
  db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.namespace, p("namespace")), eq(jobs.id, p("id")))).prepare());

export const jobStatusFields = preparedQuery((db) =>
  db.select({ status: jobs.status, stop: jobs.stop, type: jobs.type }).from(jobs)
    .where(and(eq(jobs.namespace, p("namespace")), eq(jobs.id, p("id")))).prepare());

/**
 * What a job's status is made of, counted in SQL (refreshJobStatus): its allocations, the
 * live ones (wanted running, not terminal: isTerminalClient), and the finished ones (complete
 * or told to stop). Counting instead of returning the rows: every plan and status report
 * refreshes the job, and a job of 100 allocations was 100 rows decoded each time.
 */
export const jobAllocCounts = preparedQuery((db) =>
  db.select({
    n: sql<number>`count(*)`,
    live: sql<number>`coalesce(sum(case when ${allocations.desiredStatus} = 'run' and ${allocations.clientStatus} not in ('complete','failed','lost') then 1 else 0 end), 0)`,
    done: sql<number>`coalesce(sum(case when ${allocations.clientStatus} = 'complete' or ${allocations.desiredStatus} = 'stop' then 1 else 0 end), 0)`,
  }).from(allocations)
    .where(and(eq(allocations.namespace, p("namespace")), eq(allocations.jobId, p("jobId")))).prepare());

export const nodeById = preparedQuery((db) => db.select().from(nodes).where(eq(nodes.id, p("id"))).prepare());

/** What plan verification checks of a node: no attributes, meta or live sample to decode per node per plan. */
export const nodeForVerify = preparedQuery((db) =>
  db.select({ name: nodes.name, status: nodes.status, resources: nodes.resources, reserved: nodes.reserved }).from(nodes).where(eq(nodes.id, p("id"))).prepare());

export const nodeByName = preparedQuery((db) => db.select().from(nodes).where(eq(nodes.name, p("name"))).prepare());

/** Every drain: the loop asks after each status report whether any node drains. */
export const allDrains = preparedQuery((db) => db.select().from(nodeDrains).prepare());

export const drainOfNode = preparedQuery((db) =>
  db.select({ n: nodeDrains.nodeId }).from(nodeDrains).where(eq(nodeDrains.nodeId, p("nodeId"))).prepare());

export const deploymentById = preparedQuery((db) => db.select().from(deployments).where(eq(deployments.id, p("id"))).prepare());

export const evalById = preparedQuery((db) => db.select().from(evaluations).where(eq(evaluations.id, p("id"))).prepare());

export const evalStatusById = preparedQuery((db) =>
  db.select({ status: evaluations.status }).from(evaluations).where(eq(evaluations.id, p("id"))).prepare());

// --- per-job garbage collection (jobs-common.ts collectGarbage) ----------------

export const terminalAllocsOfJob = preparedQuery((db) =>
  db.select({ id: allocations.id }).from(allocations)
    .where(and(eq(allocations.namespace, p("namespace")), eq(allocations.jobId, p("jobId")),
      sql`(${allocations.desiredStatus} = 'stop' OR ${allocations.clientStatus} IN ('complete','failed','lost'))`,
      // A stopped allocation still running on its agent stays until it reports.
      sql`${allocations.clientStatus} NOT IN ('pending','running')`))
    .orderBy(asc(allocations.createIndex)).prepare());

export const finishedEvalsOfJob = preparedQuery((db) =>
  db.select({ id: evaluations.id }).from(evaluations)
    .where(and(eq(evaluations.namespace, p("namespace")), eq(evaluations.jobId, p("jobId")), inArray(evaluations.status, ["complete", "failed", "canceled"])))
    .orderBy(asc(evaluations.createIndex)).prepare());

export const finishedDeploymentsOfJob = preparedQuery((db) =>
  db.select({ id: deployments.id }).from(deployments)
    .where(and(eq(deployments.namespace, p("namespace")), eq(deployments.jobId, p("jobId")), sql`${deployments.status} != 'running'`))
    .orderBy(asc(deployments.createIndex)).prepare());

// --- writes --------------------------------------------------------------------

export const setJobStatus = preparedQuery((db) =>
  db.update(jobs).set({ status: slot("status"), modifyIndex: slot("index") })
    .where(and(eq(jobs.namespace, p("namespace")), eq(jobs.id, p("id")))).prepare());

export const setAllocClientStatus = preparedQuery((db) =>
  db.update(allocations).set({
    clientStatus: slot("clientStatus"), clientDescription: slot("clientDescription"), taskStates: slot("taskStates"),
    modifiedAt: slot("at"), modifyIndex: slot("index"),
  }).where(eq(allocations.id, p("id"))).prepare());

export const setDeploymentGroups = preparedQuery((db) =>
  db.update(deployments).set({ groups: slot("groups"), modifyIndex: slot("index") }).where(eq(deployments.id, p("id"))).prepare());

export const setAllocHealth = preparedQuery((db) =>
  db.update(allocations).set({ health: slot("health"), modifiedAt: slot("at"), modifyIndex: slot("index") }).where(eq(allocations.id, p("id"))).prepare());

export const finishEvalOfPlan = preparedQuery((db) =>
  db.update(evaluations).set({
    status: slot("status"), statusDescription: slot("description"), failedGroups: slot("failedGroups"),
    modifiedAt: slot("at"), modifyIndex: slot("index"),
  }).where(eq(evaluations.id, p("id"))).prepare());

/** Every column of an allocation row is a placeholder of the same name. */
export const insertAllocation = preparedQuery((db) =>
  db.insert(allocations).values({
    id: slot("id"), namespace: slot("namespace"), jobId: slot("jobId"), jobVersion: slot("jobVersion"), jobType: slot("jobType"),
    groupName: slot("groupName"), taskGroupIndex: slot("taskGroupIndex"), groupHash: slot("groupHash"), groupSpec: slot("groupSpec"),
    nodeId: slot("nodeId"), evalId: slot("evalId"), priority: slot("priority"), resources: slot("resources"), ports: slot("ports"),
    desiredStatus: slot("desiredStatus"), desiredDescription: slot("desiredDescription"), clientStatus: slot("clientStatus"),
    clientDescription: slot("clientDescription"), taskStates: slot("taskStates"), health: slot("health"), deploymentId: slot("deploymentId"),
    previousAlloc: slot("previousAlloc"), reschedules: slot("reschedules"), createdAt: slot("createdAt"), modifiedAt: slot("modifiedAt"),
    createIndex: slot("createIndex"), modifyIndex: slot("modifyIndex"),
  }).prepare());
