// The drizzle schema of the state database. It must match the SQL in
// migrations.ts (test/store checks both against the live table_info).
// Every state table carries create_index/modify_index: the log index of the
// command that created or last changed the row (Consul's CreateIndex/ModifyIndex).
import { sqliteTable, text, integer, primaryKey } from "drizzle-orm/sqlite-core";

/** The ordered command log (the Raft log once peering is on). */
export const log = sqliteTable("log", {
  idx: integer("idx").primaryKey(),
  term: integer("term").notNull(),
  kind: text("kind").notNull(), // "cmd" | "noop" | "conf"
  data: text("data").notNull(),
});

/** Small key/value facts about this store: applied index, raft hard state, schema facts. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const nodes = sqliteTable("nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  address: text("address").notNull(),
  datacenter: text("datacenter").notNull(),
  role: text("role").notNull(), // "agent" | "dev"
  status: text("status").notNull(), // "ready" | "down"
  attributes: text("attributes", { mode: "json" }).$type<Record<string, string>>().notNull(),
  resources: text("resources", { mode: "json" }).$type<NodeResources>().notNull(),
  reserved: text("reserved", { mode: "json" }).$type<NodeReserved>().notNull(),
  meta: text("meta", { mode: "json" }).$type<Record<string, string>>().notNull(),
  statusChangedAt: integer("status_changed_at").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
  /** Threshold checks on heartbeat metrics (SetNodeHealth): "passing" | "warning". */
  health: text("health").$type<"passing" | "warning">().notNull().default("passing"),
  healthReason: text("health_reason").notNull().default(""),
  healthChangedAt: integer("health_changed_at").notNull().default(0),
});

export interface NodeResources {
  cpuMhz: number;
  cores: number;
  memoryBytes: number;
  diskBytes: number;
}

export interface NodeReserved {
  cpuMhz: number;
  memoryBytes: number;
}

export type NodeRow = typeof nodes.$inferSelect;

/** KV entries (Consul's /v1/kv). `value` is standard base64. */
export const kv = sqliteTable("kv", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  flags: integer("flags").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
  /** The session holding the key's lock ("" when none): Consul's Session (docs/coordination.md). */
  session: text("session").notNull().default(""),
  /** How many times the lock was acquired: Consul's LockIndex. */
  lockIndex: integer("lock_index").notNull().default(0),
});

/** Deleted keys with the index of their deletion, so prefix indexes move forward on deletes. */
export const kvTombstones = sqliteTable("kv_tombstones", {
  key: text("key").primaryKey(),
  deleteIndex: integer("delete_index").notNull(),
});

/** The latest Raft snapshot: its index, term, voter set and the state dump. One row. */
export const raftSnapshot = sqliteTable("raft_snapshot", {
  id: integer("id").primaryKey(),
  idx: integer("idx").notNull(),
  term: integer("term").notNull(),
  voters: text("voters", { mode: "json" }).$type<string[]>().notNull(),
  data: text("data").notNull(),
});

/** Service instances (Consul's ServiceNode): one row per (node, service id). */
export const services = sqliteTable(
  "services",
  {
    nodeId: text("node_id").notNull(),
    serviceId: text("service_id").notNull(),
    name: text("name").notNull(),
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull(),
    /** "" = clients use the node's address. */
    address: text("address").notNull(),
    port: integer("port").notNull(),
    meta: text("meta", { mode: "json" }).$type<Record<string, string>>().notNull(),
    weights: text("weights", { mode: "json" }).$type<{ passing: number; warning: number }>().notNull(),
    taggedAddresses: text("tagged_addresses", { mode: "json" }).$type<Record<string, { address: string; port: number }>>().notNull(),
    enableTagOverride: integer("enable_tag_override", { mode: "boolean" }).notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.serviceId] })],
);

export type ServiceRow = typeof services.$inferSelect;

/** Health checks; service_id "" = a node-level check. modify_index moves on status changes, not output-only ones. */
export const checks = sqliteTable(
  "checks",
  {
    nodeId: text("node_id").notNull(),
    checkId: text("check_id").notNull(),
    name: text("name").notNull(),
    status: text("status").$type<"passing" | "warning" | "critical">().notNull(),
    notes: text("notes").notNull(),
    output: text("output").notNull(),
    serviceId: text("service_id").notNull(),
    type: text("type").notNull(),
    definition: text("definition", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createIndex: integer("create_index").notNull(),
    modifyIndex: integer("modify_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.checkId] })],
);

export type CheckRow = typeof checks.$inferSelect;

/** Nodes the catalog knows only from their registrations (leader-role nodes do not join as agents). */
export const catalogNodes = sqliteTable("catalog_nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  address: text("address").notNull(),
  datacenter: text("datacenter").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
});

/** Index of the last delete under a (kind, key): kinds "service" (lowercased name), "node" and "nodecheck" (node id). */
export const catalogTombstones = sqliteTable(
  "catalog_tombstones",
  {
    kind: text("kind").notNull(),
    key: text("key").notNull(),
    deleteIndex: integer("delete_index").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.key] })],
);

// Jobs, evaluations, allocations, deployments, drains.
export * from "./schema-jobs.ts";

// ACL tokens, policies, intentions, audit log.
export * from "./schema-acl.ts";
export * from "./schema-sessions.ts";
