// The drizzle schema of the state database. It must match the SQL in
// migrations.ts (test/store checks both against the live table_info).
// Every state table carries create_index/modify_index: the log index of the
// command that created or last changed the row (Consul's CreateIndex/ModifyIndex).
import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";

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
});

/** Deleted keys with the index of their deletion, so prefix indexes move forward on deletes. */
export const kvTombstones = sqliteTable("kv_tombstones", {
  key: text("key").primaryKey(),
  deleteIndex: integer("delete_index").notNull(),
});
