// SQL of one entry of the append-only migrations array: what paged lists and
// agents' blocking reads need.
// - Keyset indexes: paged lists (core/http/paging.ts) read allocations,
//   evaluations and deployments in (create_index, id) order and nodes in
//   (name, id) order from a key on; without an index each page would sort the table.
// - node_alloc_deletions: per node, the index of the last entry that deleted
//   one of its allocations (garbage collection, purges). A deleted row cannot
//   move max(modify_index) of the node's allocations, so without it an agent
//   blocked on its allocations learned of a purge only when its wait ended.
//   Per node, not table-wide: a table-wide index would wake every agent on
//   every change.
export const LIST_KEYS_MIGRATION = `CREATE INDEX allocations_create ON allocations (create_index, id);
   CREATE INDEX evaluations_create ON evaluations (create_index, id);
   CREATE INDEX deployments_create ON deployments (create_index, id);
   CREATE INDEX nodes_name_id ON nodes (name, id);
   CREATE TABLE node_alloc_deletions (
     node_id TEXT PRIMARY KEY,
     delete_index INTEGER NOT NULL
   );`;

// Which nodes an applied entry changed the allocations of (core/state/alloc-nodes-changed.ts):
// looked up by the entry's index after every entry that touches allocations, so that a
// change wakes only the agents of the nodes it concerns.
export const ALLOC_CHANGE_INDEX_MIGRATION = `CREATE INDEX allocations_modify ON allocations (modify_index, node_id);
   CREATE INDEX node_alloc_deletions_index ON node_alloc_deletions (delete_index);`;
