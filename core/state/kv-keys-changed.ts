// Which KV keys an applied entry changed, read back from the rows it left:
// every write of a key (KVSet, a lock write, a Txn op, a session's release)
// sets its modify_index to the entry's index, and every deletion (KVDelete,
// delete-tree, a `delete` session's end) records the entry's index in the
// key's tombstone. Those two facts are what a key's and a prefix's index are
// made of (domains/kv.ts kvGet, kvPrefixIndex), so the keys found here are
// exactly those whose index the entry moved: a KV blocking read is woken by
// these and by nothing else (core/state/watch.ts, prefix topics).
//
// Read after the entry's transaction committed. A key that a later entry of
// the same commit rewrote no longer carries this index; that later entry
// names it when it is published in turn, before any waiter could have missed
// it (entries are published in order, right after commit).
import { clientOf, type Db } from "../store/db.ts";

export function kvKeysChangedAt(db: Db, index: number): string[] {
  const rows = clientOf(db).prepare(
    `SELECT key AS k FROM kv WHERE modify_index = ?
     UNION SELECT key AS k FROM kv_tombstones WHERE delete_index = ?`,
  ).all(index, index) as { k: string }[];
  return rows.map((r) => r.k);
}
