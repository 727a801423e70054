// Deleting allocation rows, and the per-node deletion index it leaves.
// An agent blocks on its node's allocations until their index passes the one
// it holds; that index was max(modify_index) of the node's rows, which a
// deleted row cannot move, so the agent learned of a purged allocation only
// when its wait ended. Every deletion therefore records, per node, the index
// of the entry that deleted (node_alloc_deletions), and the node's index is
// the larger of the two. Per node, not table-wide: a table-wide index would
// wake every agent on every change. Pure functions of the database.
import { inArray } from "drizzle-orm";
import { clientOf, type Db } from "../../store/db.ts";
import { allocations } from "../../store/schema-jobs.ts";

/** SQLite's bound-parameter limit is far above this; chunks keep each statement small. */
const CHUNK = 500;

/** Deletes these allocations and moves their nodes' deletion index to `index`. */
export function deleteAllocations(db: Db, index: number, ids: readonly string[]): number {
  if (ids.length === 0) return 0;
  const client = clientOf(db);
  const mark = client.prepare(
    "INSERT INTO node_alloc_deletions (node_id, delete_index) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET delete_index = excluded.delete_index",
  );
  let deleted = 0;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const found = db.select({ nodeId: allocations.nodeId }).from(allocations).where(inArray(allocations.id, chunk)).all();
    if (found.length === 0) continue;
    for (const nodeId of new Set(found.map((r) => r.nodeId))) mark.run(nodeId, index);
    db.delete(allocations).where(inArray(allocations.id, chunk)).run();
    deleted += found.length;
  }
  return deleted;
}

/** Index of the last entry that deleted one of the node's allocations; 0 when none did. */
export function nodeAllocDeleteIndex(db: Db, nodeId: string): number {
  const row = clientOf(db).prepare("SELECT delete_index AS i FROM node_alloc_deletions WHERE node_id = ?").get(nodeId) as { i: number } | undefined;
  return row?.i ?? 0;
}
