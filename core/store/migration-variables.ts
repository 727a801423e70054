// SQL of the variables tables (core/state/domains/variables.ts), one entry
// of the append-only migrations array. Items are stored only encrypted:
// `data` is AES-256-GCM ciphertext under the data key `key_id`, whose own
// row holds it wrapped by the key derived from the cluster secret.
export const VARIABLES_MIGRATION = `CREATE TABLE variable_keys (
     id TEXT PRIMARY KEY,
     wrapped TEXT NOT NULL,
     nonce TEXT NOT NULL,
     active INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     create_time INTEGER NOT NULL
   );
   CREATE TABLE variables (
     namespace TEXT NOT NULL,
     path TEXT NOT NULL,
     key_id TEXT NOT NULL,
     nonce TEXT NOT NULL,
     data TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL,
     create_time INTEGER NOT NULL,
     modify_time INTEGER NOT NULL,
     PRIMARY KEY (namespace, path)
   );`;

// Where a deleted variable was (its last delete's index), so that a blocking
// read of that path, or of a prefix over it, wakes on the delete with an
// index of the readable paths only (core/api/variables.ts): the table's own
// index would move on writes to paths the reader may not see.
export const VARIABLE_TOMBSTONES_MIGRATION = `CREATE TABLE variable_tombstones (
     namespace TEXT NOT NULL,
     path TEXT NOT NULL,
     delete_index INTEGER NOT NULL,
     PRIMARY KEY (namespace, path)
   );`;
