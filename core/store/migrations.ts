// Schema migrations, applied in order at start. PRAGMA user_version records
// how many have run. Append only: never edit a migration that has shipped.
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
];
