// SQL of the coordination tables (schema-sessions.ts) and the KV lock
// columns, one entry of the append-only migrations array.
export const SESSIONS_MIGRATION = `ALTER TABLE kv ADD COLUMN session TEXT NOT NULL DEFAULT '';
   ALTER TABLE kv ADD COLUMN lock_index INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX kv_session ON kv(session) WHERE session <> '';
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     node TEXT NOT NULL,
     node_checks TEXT NOT NULL,
     service_checks TEXT NOT NULL,
     lock_delay_ms INTEGER NOT NULL,
     behavior TEXT NOT NULL,
     ttl TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX sessions_node ON sessions(node COLLATE NOCASE);
   CREATE TABLE kv_lock_delays (
     key TEXT PRIMARY KEY,
     until_ms INTEGER NOT NULL
   );`;
