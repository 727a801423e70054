// SQL of one entry of the append-only migrations array: covering indexes for
// the counts of GET /v1/summary (core/state/domains/summary-counts.ts). With
// them a count by status reads a narrow index instead of every row of the
// table (a job row carries its whole spec: at 100,000 jobs a scan of the
// table reads ~50 MB). The name beside the status covers a narrow token's
// count, which checks each name against its rules.
export const SUMMARY_COUNTS_MIGRATION = `CREATE INDEX jobs_status_id ON jobs (status, id);
   CREATE INDEX nodes_status_name ON nodes (status, name);
   CREATE INDEX allocations_desired_client_job ON allocations (desired_status, client_status, job_id);`;
