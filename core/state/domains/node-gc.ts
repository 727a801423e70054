// Garbage collection of nodes that left for good (Nomad's node_gc_threshold).
//
// A node goes when it is `down` (not merely draining or ineligible), has been
// down since before the cut-off, and has no allocation that is not terminal.
// The leader chooses (nodeGcCandidates, by the time the node went down, which
// the SetNodeStatus entry stored from its proposer's clock) and names each
// node with the modify index it was chosen at; the applier removes a node only
// if it is still down, unchanged since (a node that came back, even briefly,
// has a new modify index and is kept) and still has nothing live. The
// re-check uses only the replica's state and the entry, never a clock, so
// every replica removes the same nodes.
//
// With the node go everything keyed by it: its catalog registration, services
// and checks (as CatalogDeregister removes them: tombstoned, so blocking
// catalog queries wake), its terminal allocations (their node no longer
// exists to show them on, and a later job GC would otherwise re-create the
// node's deletion index), its deletion index and its drain row. The leader's
// in-memory per-node state (membership, heartbeat times, metrics history)
// follows the nodes table (retain on the registered ids).
import { eq } from "drizzle-orm";
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import { nodeDrains } from "../../store/schema-jobs.ts";
import { nodes } from "../../store/schema.ts";
import { deleteAllocations } from "./alloc-delete.ts";
import { removeCatalogNode } from "./catalog.ts";

/** An allocation nothing will change any more (the same rule as the job GC's). */
export const TERMINAL_ALLOC_SQL = "(desired_status = 'stop' OR client_status IN ('complete','failed','lost')) AND client_status NOT IN ('pending','running')";

export const GcNode = z.object({ id: z.string().min(1).max(256), modifyIndex: z.number().int().nonnegative() });
export type GcNode = z.infer<typeof GcNode>;

/** Pure: may a node in this state be collected? (`downBefore`: ms epoch; a node down at or before it qualifies.) */
export function nodeCollectable(n: { status: string; statusChangedAt: number; liveAllocs: number }, downBefore: number): boolean {
  return n.status === "down" && n.statusChangedAt <= downBefore && n.liveAllocs === 0;
}

/** Nodes that may be collected: down since at or before `downBefore` (ms epoch), with no live allocation. Read-only. */
export function nodeGcCandidates(db: Db, downBefore: number, limit: number): GcNode[] {
  return clientOf(db).prepare(
    `SELECT id, modify_index AS modifyIndex FROM nodes n
      WHERE status = 'down' AND status_changed_at <= ?
        AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.node_id = n.id AND NOT (${TERMINAL_ALLOC_SQL}))
      ORDER BY status_changed_at LIMIT ?`,
  ).all(downBefore, limit) as GcNode[];
}

/** Removes each named node still collectable (down, unchanged since chosen, nothing live); returns how many went. */
export function collectNodes(db: Db, index: number, named: readonly GcNode[]): number {
  const client = clientOf(db);
  const live = client.prepare(`SELECT count(*) AS n FROM allocations WHERE node_id = ? AND NOT (${TERMINAL_ALLOC_SQL})`);
  const allocIds = client.prepare("SELECT id FROM allocations WHERE node_id = ?");
  let removed = 0;
  for (const n of named) {
    const row = db.select({ status: nodes.status, statusChangedAt: nodes.statusChangedAt, modifyIndex: nodes.modifyIndex }).from(nodes).where(eq(nodes.id, n.id)).get();
    if (!row || row.modifyIndex !== n.modifyIndex) continue;
    // No time cut-off here (a replica has no clock to use): the time was the leader's choice, the unchanged modify index keeps it valid.
    if (!nodeCollectable({ ...row, liveAllocs: (live.get(n.id) as { n: number }).n }, Number.MAX_SAFE_INTEGER)) continue;
    deleteAllocations(db, index, (allocIds.all(n.id) as { id: string }[]).map((r) => r.id));
    client.prepare("DELETE FROM node_alloc_deletions WHERE node_id = ?").run(n.id);
    db.delete(nodeDrains).where(eq(nodeDrains.nodeId, n.id)).run();
    removeCatalogNode(db, index, n.id, true);
    db.delete(nodes).where(eq(nodes.id, n.id)).run();
    removed++;
  }
  return removed;
}
