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
