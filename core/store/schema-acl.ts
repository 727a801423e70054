// Tables of authorization (core/state/domains/acl*.ts, audit.ts):
// tokens (secrets stored only as SHA-256), policies, token→policy links,
// the bootstrap marker, intentions and the audit log. Re-exported by
// schema.ts; the SQL is core/store/migration-acl.ts.
import { sqliteTable, text, integer, primaryKey, index } from "drizzle-orm/sqlite-core";

export const aclTokens = sqliteTable("acl_tokens", {
  accessorId: text("accessor_id").primaryKey(),
  /** hex SHA-256 of the secret; the secret itself is never stored. */
  secretHash: text("secret_hash").notNull().unique(),
  description: text("description").notNull(),
  /** Service names this token speaks for (Consul's ServiceIdentities). */
  serviceIdentities: text("service_identities", { mode: "json" }).$type<string[]>().notNull(),
  /** Proposer's clock when created, ms. */
  createTime: integer("create_time").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
});
export type AclTokenRow = typeof aclTokens.$inferSelect;

export const aclPolicies = sqliteTable("acl_policies", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  description: text("description").notNull(),
  /** The rules text as given (HCL or JSON); validated when written. */
  rules: text("rules").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
});
export type AclPolicyRow = typeof aclPolicies.$inferSelect;

export const aclTokenPolicies = sqliteTable(
  "acl_token_policies",
  {
    accessorId: text("accessor_id").notNull(),
    policyId: text("policy_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accessorId, t.policyId] }), index("acl_token_policies_policy").on(t.policyId)],
);

/** One row once PUT /v1/acl/bootstrap succeeded. */
export const aclBootstrap = sqliteTable("acl_bootstrap", {
  id: integer("id").primaryKey(),
  accessorId: text("accessor_id").notNull(),
  bootstrapIndex: integer("bootstrap_index").notNull(),
});

export const intentions = sqliteTable(
  "intentions",
  {
    id: text("id").primaryKey(),
    source: text("source").notNull(),
    destination: text("destination").notNull(),
    action: text("action").$type<"allow" | "deny">().notNull(),
    description: text("description").notNull(),
    meta: text("meta", { mode: "json" }).$type<Record<string, string>>().notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [index("intentions_pair").on(t.source, t.destination)],
);
export type IntentionRow = typeof intentions.$inferSelect;

/** Writes made through the HTTP API, oldest dropped past the retention bound. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    /** log index × 1000 + position in the batch: the same on every replica. */
    seq: integer("seq").primaryKey(),
    at: integer("at").notNull(),
    /** Name of the node that received the request. */
    node: text("node").notNull(),
    /** Token accessor ("" when ACLs are off or no token resolved). */
    accessor: text("accessor").notNull(),
    method: text("method").notNull(),
    /** Request path without the query (a ?token= never lands here). */
    path: text("path").notNull(),
    /** The route pattern: what the write was ("PUT /v1/kv/{key}"). */
    route: text("route").notNull(),
    status: integer("status").notNull(),
    remote: text("remote").notNull(),
  },
  (t) => [index("audit_log_at").on(t.at)],
);
export type AuditRow = typeof auditLog.$inferSelect;
