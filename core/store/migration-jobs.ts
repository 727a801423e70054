// SQL of the cluster resource management tables (schema-jobs.ts), one entry
// of the append-only migrations array.
export const JOBS_MIGRATION = `CREATE TABLE jobs (
     namespace TEXT NOT NULL,
     id TEXT NOT NULL,
     type TEXT NOT NULL,
     priority INTEGER NOT NULL,
     version INTEGER NOT NULL,
     status TEXT NOT NULL,
     stop INTEGER NOT NULL,
     spec TEXT NOT NULL,
     stable_version INTEGER,
     submit_index INTEGER NOT NULL,
     submitted_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL,
     PRIMARY KEY (namespace, id)
   );
   CREATE TABLE job_versions (
     namespace TEXT NOT NULL,
     job_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     spec TEXT NOT NULL,
     submit_index INTEGER NOT NULL,
     PRIMARY KEY (namespace, job_id, version)
   );
   CREATE TABLE evaluations (
     id TEXT PRIMARY KEY,
     namespace TEXT NOT NULL,
     job_id TEXT NOT NULL,
     priority INTEGER NOT NULL,
     triggered_by TEXT NOT NULL,
     node_id TEXT NOT NULL,
     status TEXT NOT NULL,
     status_description TEXT NOT NULL,
     failed_groups TEXT NOT NULL,
     wait_until INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     modified_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX evaluations_job ON evaluations(namespace, job_id);
   CREATE INDEX evaluations_status ON evaluations(status);
   CREATE TABLE allocations (
     id TEXT PRIMARY KEY,
     namespace TEXT NOT NULL,
     job_id TEXT NOT NULL,
     job_version INTEGER NOT NULL,
     job_type TEXT NOT NULL,
     group_name TEXT NOT NULL,
     task_group_index INTEGER NOT NULL,
     group_hash TEXT NOT NULL,
     group_spec TEXT NOT NULL,
     node_id TEXT NOT NULL,
     eval_id TEXT NOT NULL,
     priority INTEGER NOT NULL,
     resources TEXT NOT NULL,
     ports TEXT NOT NULL,
     desired_status TEXT NOT NULL,
     desired_description TEXT NOT NULL,
     client_status TEXT NOT NULL,
     client_description TEXT NOT NULL,
     task_states TEXT NOT NULL,
     health TEXT NOT NULL,
     deployment_id TEXT NOT NULL,
     previous_alloc TEXT NOT NULL,
     reschedules TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     modified_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX allocations_node ON allocations(node_id);
   CREATE INDEX allocations_job ON allocations(namespace, job_id);
   CREATE TABLE deployments (
     id TEXT PRIMARY KEY,
     namespace TEXT NOT NULL,
     job_id TEXT NOT NULL,
     job_version INTEGER NOT NULL,
     status TEXT NOT NULL,
     status_description TEXT NOT NULL,
     groups TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX deployments_job ON deployments(namespace, job_id);
   CREATE TABLE node_drains (
     node_id TEXT PRIMARY KEY,
     started_at INTEGER NOT NULL,
     deadline_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );`;

/** Launches of periodic and parameterized jobs (schema-jobs.ts jobLaunches). */
export const JOB_LAUNCHES_MIGRATION = `
   CREATE TABLE job_launches (
     namespace TEXT NOT NULL,
     job_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     key TEXT NOT NULL,
     child_id TEXT NOT NULL,
     launched_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     PRIMARY KEY (namespace, job_id, kind, key)
   );`;
