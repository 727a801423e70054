// SQL of one entry of the append-only migrations array: the highest delete
// index of the catalog tombstones reaped so far
// (core/state/domains/catalog-tombstones.ts). A catalog answer's index
// includes the tombstones of the rows it lost; once old tombstones are
// reaped it would go back, so every index that reads tombstones is at least
// this floor. A table of its own (one row) so that snapshots carry it.
export const CATALOG_TOMBSTONE_FLOOR_MIGRATION = `CREATE TABLE catalog_tombstone_floor (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     floor INTEGER NOT NULL
   );`;
