// SQL of one entry of the append-only migrations array: which service names
// an applied catalog entry changed (core/state/service-names-changed.ts),
// looked up by the entry's index after every entry that touches the catalog
// while health blocking queries wait, so that a write wakes only the
// watchers of its own services. Every catalog write sets a row's
// modify_index to the entry's index and every deletion its tombstone's
// delete_index (domains/catalog.ts).
export const CATALOG_CHANGE_INDEX_MIGRATION = `CREATE INDEX services_modify ON services (modify_index);
   CREATE INDEX checks_modify ON checks (modify_index);
   CREATE INDEX catalog_tombstones_delete ON catalog_tombstones (delete_index);
   CREATE INDEX catalog_nodes_modify ON catalog_nodes (modify_index);
   CREATE INDEX nodes_modify ON nodes (modify_index);`;
