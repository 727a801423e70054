// An agent's blocking query on its node's allocations reads, per answer, each
// allocation's id, job and modify index in list order (node-alloc-answers.ts),
// then only the rows that changed. Through allocations_node that read still
// visited every row of the node in the table (wide rows: group spec, task
// states) and sorted them; this index answers it alone, already in order.
export const NODE_ALLOC_STAMPS_MIGRATION = `CREATE INDEX allocations_node_stamps ON allocations (node_id, create_index, id, job_id, modify_index);`;
