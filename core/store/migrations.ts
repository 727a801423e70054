// Schema migrations, applied in order at start. PRAGMA user_version records
// how many have run. Append only: never edit a migration that has shipped.
import { JOBS_MIGRATION, JOB_LAUNCHES_MIGRATION } from "./migration-jobs.ts";
import { ACL_MIGRATION } from "./migration-acl.ts";
import { SESSIONS_MIGRATION } from "./migration-sessions.ts";
import { JOB_VERSION_SUBMIT_TIME_MIGRATION } from "./migration-job-version-time.ts";
import { VARIABLE_TOMBSTONES_MIGRATION, VARIABLES_MIGRATION } from "./migration-variables.ts";
import { KV_CHANGE_INDEX_MIGRATION } from "./migration-kv-change.ts";
import { KV_TOMBSTONE_FLOOR_MIGRATION } from "./migration-kv-tombstone-floor.ts";
import { CATALOG_TOMBSTONE_FLOOR_MIGRATION } from "./migration-catalog-tombstone-floor.ts";
import { VARIABLE_TOMBSTONE_FLOOR_MIGRATION } from "./migration-variable-tombstone-floor.ts";
import { CATALOG_CHANGE_INDEX_MIGRATION } from "./migration-catalog-change.ts";
import { ALLOC_CHANGE_INDEX_MIGRATION, LIST_KEYS_MIGRATION } from "./migration-list-keys.ts";
import { SUMMARY_COUNTS_MIGRATION } from "./migration-summary.ts";

export const migrations: string[] = [
  `CREATE TABLE log (
     idx INTEGER PRIMARY KEY,
     term INTEGER NOT NULL,
     kind TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );
   CREATE TABLE nodes (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     address TEXT NOT NULL,
     datacenter TEXT NOT NULL,
     role TEXT NOT NULL,
     status TEXT NOT NULL,
     attributes TEXT NOT NULL,
     resources TEXT NOT NULL,
     reserved TEXT NOT NULL,
     meta TEXT NOT NULL,
     status_changed_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX nodes_name ON nodes(name);`,
  // 2: KV store
  `CREATE TABLE kv (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     flags INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE TABLE kv_tombstones (
     key TEXT PRIMARY KEY,
     delete_index INTEGER NOT NULL
   );`,
  // 3: Raft snapshot (the state at `idx`, sent to followers that need compacted entries)
  `CREATE TABLE raft_snapshot (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     idx INTEGER NOT NULL,
     term INTEGER NOT NULL,
     voters TEXT NOT NULL,
     data TEXT NOT NULL
   );`,
  // 4: service catalog (discovery): instances, checks, nodes known only
  // through their registrations (leader-role nodes), and delete markers so
  // per-query indexes move forward when a row disappears.
  `CREATE TABLE services (
     node_id TEXT NOT NULL,
     service_id TEXT NOT NULL,
     name TEXT NOT NULL,
     tags TEXT NOT NULL,
     address TEXT NOT NULL,
     port INTEGER NOT NULL,
     meta TEXT NOT NULL,
     weights TEXT NOT NULL,
     tagged_addresses TEXT NOT NULL,
     enable_tag_override INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL,
     PRIMARY KEY (node_id, service_id)
   );
   CREATE INDEX services_name ON services(name COLLATE NOCASE);
   CREATE TABLE checks (
     node_id TEXT NOT NULL,
     check_id TEXT NOT NULL,
     name TEXT NOT NULL,
     status TEXT NOT NULL,
     notes TEXT NOT NULL,
     output TEXT NOT NULL,
     service_id TEXT NOT NULL,
     type TEXT NOT NULL,
     definition TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL,
     PRIMARY KEY (node_id, check_id)
   );
   CREATE INDEX checks_service ON checks(node_id, service_id);
   CREATE TABLE catalog_nodes (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     address TEXT NOT NULL,
     datacenter TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE TABLE catalog_tombstones (
     kind TEXT NOT NULL,
     key TEXT NOT NULL,
     delete_index INTEGER NOT NULL,
     PRIMARY KEY (kind, key)
   );`,
  // 5: node-level health from the leader's threshold checks (SetNodeHealth).
  `ALTER TABLE nodes ADD COLUMN health TEXT NOT NULL DEFAULT 'passing';
   ALTER TABLE nodes ADD COLUMN health_reason TEXT NOT NULL DEFAULT '';
   ALTER TABLE nodes ADD COLUMN health_changed_at INTEGER NOT NULL DEFAULT 0;`,
  // 6: cluster resource management: jobs, versions, evaluations, allocations, deployments, drains (migration-jobs.ts).
  JOBS_MIGRATION,
  // 7: authorization: ACL tokens, policies, bootstrap marker, intentions, audit log (migration-acl.ts).
  ACL_MIGRATION,
  // 8: coordination: sessions, KV lock holder and lock index, lock delays (migration-sessions.ts).
  SESSIONS_MIGRATION,
  // 9: launches of periodic and parameterized jobs (migration-jobs.ts).
  JOB_LAUNCHES_MIGRATION,
  // 10: submit time of each job version, for `job history` (migration-job-version-time.ts).
  JOB_VERSION_SUBMIT_TIME_MIGRATION,
  // 11: encrypted variables and their wrapped data keys (migration-variables.ts).
  VARIABLES_MIGRATION,
  // 12: where deleted variables were, for blocking reads (migration-variables.ts).
  VARIABLE_TOMBSTONES_MIGRATION,
  // 13: keyset indexes for paged lists, per-node allocation deletion index (migration-list-keys.ts).
  LIST_KEYS_MIGRATION,
  // 14: allocations and deletions by the entry that changed them: per-node wakeups (migration-list-keys.ts).
  ALLOC_CHANGE_INDEX_MIGRATION,
  // 15: covering indexes for the counts of GET /v1/summary (migration-summary.ts).
  SUMMARY_COUNTS_MIGRATION,
  // 16: KV keys and tombstones by the entry that changed them: per-key wakeups (migration-kv-change.ts).
  KV_CHANGE_INDEX_MIGRATION,
  // 17: the floor of KV prefix indexes once tombstones are reaped (migration-kv-tombstone-floor.ts).
  KV_TOMBSTONE_FLOOR_MIGRATION,
  // 18: catalog rows and tombstones by the entry that changed them: per-service health wakeups (migration-catalog-change.ts).
  CATALOG_CHANGE_INDEX_MIGRATION,
  // 19: the floor of catalog indexes once tombstones are reaped (migration-catalog-tombstone-floor.ts).
  CATALOG_TOMBSTONE_FLOOR_MIGRATION,
  // 20: the floor of variables' indexes once their tombstones are reaped (migration-variable-tombstone-floor.ts).
  VARIABLE_TOMBSTONE_FLOOR_MIGRATION,
];
