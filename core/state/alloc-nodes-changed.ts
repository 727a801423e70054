// Which nodes' allocations an applied entry changed, read back from the
// rows it left: every write to an allocation sets its modify_index to the
// entry's index, and every deletion records the entry's index per node
// (alloc-delete.ts). Those two facts are what a node's allocation index is
// made of (jobs-read.ts nodeAllocIndex), so the nodes found here are exactly
// those whose index the entry moved: an agent blocked on its own node's
// allocations is woken by these and by nothing else (core/state/watch.ts).
//
// Read after the entry's transaction committed. A row that a later entry of
// the same commit rewrote no longer carries this index; that later entry
// names its node when it is published in turn, which is before any waiter
// could have missed it (entries are published in order, right after commit).
import { clientOf, type Db } from "../store/db.ts";

export function allocNodesChangedAt(db: Db, index: number): string[] {
  const client = clientOf(db);
  const rows = client.prepare(
    `SELECT node_id AS n FROM allocations WHERE modify_index = ?
     UNION SELECT node_id AS n FROM node_alloc_deletions WHERE delete_index = ?`,
  ).all(index, index) as { n: string }[];
  return rows.map((r) => r.n);
}
