// The drizzle schema of coordination state (Consul sessions and KV lock
// delays); SQL in migration-sessions.ts. See docs/coordination.md.
import { sqliteTable, text, integer } from "drizzle-orm/sqlite-core";

/** Consul sessions. Timers (TTL) are not state: the active leader keeps them in memory. */
export const sessions = sqliteTable("sessions", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** The catalog node the session belongs to (by name). */
  node: text("node").notNull(),
  /** Check ids on that node ("serfHealth": the node's own liveness). */
  nodeChecks: text("node_checks", { mode: "json" }).$type<string[]>().notNull(),
  /** Service checks as { ID, Namespace } (Consul's ServiceChecks). */
  serviceChecks: text("service_checks", { mode: "json" }).$type<{ ID: string; Namespace?: string }[]>().notNull(),
  lockDelayMs: integer("lock_delay_ms").notNull(),
  behavior: text("behavior").$type<"release" | "delete">().notNull(),
  /** As the client wrote it ("30s"), "" for none: Consul echoes the string. */
  ttl: text("ttl").notNull(),
  createIndex: integer("create_index").notNull(),
  modifyIndex: integer("modify_index").notNull(),
});

export type SessionRow = typeof sessions.$inferSelect;

/** Keys released by an invalidated session may not be acquired before `until` (proposer's clock, ms). */
export const kvLockDelays = sqliteTable("kv_lock_delays", {
  key: text("key").primaryKey(),
  until: integer("until_ms").notNull(),
});
