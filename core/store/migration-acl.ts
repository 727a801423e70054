// SQL of the authorization tables (schema-acl.ts), one entry of the
// append-only migrations array.
export const ACL_MIGRATION = `CREATE TABLE acl_tokens (
     accessor_id TEXT PRIMARY KEY,
     secret_hash TEXT NOT NULL UNIQUE,
     description TEXT NOT NULL,
     service_identities TEXT NOT NULL,
     create_time INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE TABLE acl_policies (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     description TEXT NOT NULL,
     rules TEXT NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE TABLE acl_token_policies (
     accessor_id TEXT NOT NULL,
     policy_id TEXT NOT NULL,
     PRIMARY KEY (accessor_id, policy_id)
   );
   CREATE INDEX acl_token_policies_policy ON acl_token_policies(policy_id);
   CREATE TABLE acl_bootstrap (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     accessor_id TEXT NOT NULL,
     bootstrap_index INTEGER NOT NULL
   );
   CREATE TABLE intentions (
     id TEXT PRIMARY KEY,
     source TEXT NOT NULL,
     destination TEXT NOT NULL,
     action TEXT NOT NULL,
     description TEXT NOT NULL,
     meta TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     create_index INTEGER NOT NULL,
     modify_index INTEGER NOT NULL
   );
   CREATE INDEX intentions_pair ON intentions(source, destination);
   CREATE TABLE audit_log (
     seq INTEGER PRIMARY KEY,
     at INTEGER NOT NULL,
     node TEXT NOT NULL,
     accessor TEXT NOT NULL,
     method TEXT NOT NULL,
     path TEXT NOT NULL,
     route TEXT NOT NULL,
     status INTEGER NOT NULL,
     remote TEXT NOT NULL
   );
   CREATE INDEX audit_log_at ON audit_log(at);`;
