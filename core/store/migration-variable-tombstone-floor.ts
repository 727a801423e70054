// SQL of one entry of the append-only migrations array: the highest delete
// index of the variable tombstones reaped so far
// (core/state/domains/variable-tombstones.ts). A deleted path's index, and a
// list's, include the tombstones of the paths deleted under it; once old
// tombstones are reaped they would go back, so every index that reads
// tombstones is at least this floor. A table of its own (one row) so that
// snapshots carry it. The index on delete_index lets a reap take the oldest
// first without scanning every tombstone.
export const VARIABLE_TOMBSTONE_FLOOR_MIGRATION = `CREATE TABLE variable_tombstone_floor (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     floor INTEGER NOT NULL
   );
   CREATE INDEX variable_tombstones_delete ON variable_tombstones (delete_index);`;
