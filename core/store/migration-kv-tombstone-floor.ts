// SQL of one entry of the append-only migrations array: the highest delete
// index of the KV tombstones reaped so far (core/state/domains/kv-tombstones.ts).
// A prefix's index is the highest index of its keys and tombstones; once
// old tombstones are reaped it would go back, so every prefix index is at
// least this floor. A table of its own (one row) so that snapshots carry it.
export const KV_TOMBSTONE_FLOOR_MIGRATION = `CREATE TABLE kv_tombstone_floor (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     floor INTEGER NOT NULL
   );`;
