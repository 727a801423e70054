// What changed in the allocations table since an index: the reads that let a
// reader kept in memory (the scheduling loop's LiveCluster) follow the table
// instead of reading every live allocation again. Every write to an
// allocation sets its modify_index to the entry's index and every deletion
// records the entry's index per node (alloc-delete.ts), both indexed
// (migration 14), so each read costs what changed, not the table's size.
// Only the columns placement reads: no group spec or task states to decode.
import { and, asc, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import { clientOf, type Db } from "../../store/db.ts";
import { preparedQuery } from "../../store/prepared.ts";
import { allocations } from "../../store/schema-jobs.ts";

const p = sql.placeholder;

/** The columns of LiveAllocLite (jobs-read.ts). */
const liteColumns = {
  id: allocations.id, jobId: allocations.jobId, namespace: allocations.namespace, groupName: allocations.groupName,
  nodeId: allocations.nodeId, priority: allocations.priority, resources: allocations.resources, ports: allocations.ports,
  desiredStatus: allocations.desiredStatus, clientStatus: allocations.clientStatus, taskGroupIndex: allocations.taskGroupIndex,
};

/** Every allocation written after `index`, whatever its status (a stop or a finish is a change too). */
export const allocsLiteChangedSince = preparedQuery((db) =>
  db.select(liteColumns).from(allocations).where(gt(allocations.modifyIndex, p("index"))).prepare());

/** Every column but the group spec (AllocLean): what the health watcher follows. */
const { groupSpec: _groupSpec, ...leanColumns } = getTableColumns(allocations);

/** Every allocation written after `index`, without its group spec. */
export const allocsLeanChangedSince = preparedQuery((db) =>
  db.select(leanColumns).from(allocations).where(gt(allocations.modifyIndex, p("index"))).prepare());

/** One node's live allocations (after some of its rows were deleted). */
export const liveAllocsLiteOnNode = preparedQuery((db) =>
  db.select(liteColumns).from(allocations)
    .where(and(eq(allocations.nodeId, p("nodeId")), eq(allocations.desiredStatus, "run"), inArray(allocations.clientStatus, ["pending", "running"])))
    .prepare());

/** Nodes that lost allocation rows to a deletion after `index`. */
export function allocDeletionNodesSince(db: Db, index: number): string[] {
  const rows = clientOf(db).prepare("SELECT node_id AS n FROM node_alloc_deletions WHERE delete_index > ?").all(index) as { n: string }[];
  return rows.map((r) => r.n);
}

/** What identifies a version of each of a node's allocations, in the order the full read lists them. */
export const nodeAllocStamps = preparedQuery((db) =>
  db.select({ id: allocations.id, jobId: allocations.jobId, modifyIndex: allocations.modifyIndex }).from(allocations)
    .where(eq(allocations.nodeId, p("nodeId"))).orderBy(asc(allocations.createIndex), asc(allocations.id)).prepare());
