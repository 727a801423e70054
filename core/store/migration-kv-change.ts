// SQL of one entry of the append-only migrations array: which KV keys an
// applied entry changed (core/state/kv-keys-changed.ts), looked up by the
// entry's index after every entry that touches the KV store, so that a write
// wakes only the blocking reads of its own keys and of prefixes above them.
// Every KV write sets the key's modify_index to the entry's index and every
// deletion its tombstone's delete_index, whichever applier made it (KVSet,
// KVDelete, Txn, session invalidation).
export const KV_CHANGE_INDEX_MIGRATION = `CREATE INDEX kv_modify ON kv (modify_index, key);
   CREATE INDEX kv_tombstones_delete ON kv_tombstones (delete_index, key);`;
