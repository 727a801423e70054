// Consul sessions: commands, appliers and reads (docs/coordination.md).
//
// A session is created against a catalog node and a set of health checks;
// it is invalidated (SessionDestroy, or the health hook below) when it is
// destroyed, its TTL lapses (the active leader's timers propose the
// destroy: core/cluster/session-timers.ts), its node goes down, or one of
// its checks turns critical. Invalidation releases or deletes the keys it
// holds (Behavior) and starts the lock-delay on them. Every step is part of
// an applied entry, so every replica holds the same sessions and locks; the
// lock-delay is stored as an absolute time taken from the proposer's `at`,
// so appliers never read a clock.
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import type { SessionRow } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";

/** Consul's cap on LockDelay. */
export const MAX_LOCK_DELAY_MS = 60_000;
/** Consul's SessionTTLMax. */
export const SESSION_TTL_MAX_MS = 86_400_000;
/** Consul's default LockDelay. */
export const DEFAULT_LOCK_DELAY_MS = 15_000;
/** The node-liveness check every session binds to unless told otherwise. */
export const SERF_HEALTH = "serfHealth";

const checkId = z.string().min(1).max(256);

export const SessionSpec = z.object({
  id: z.string().uuid(),
  name: z.string().max(256),
  node: z.string().max(256),
  nodeChecks: z.array(checkId).max(64),
  serviceChecks: z.array(z.object({ ID: checkId, Namespace: z.string().max(64).optional() })).max(64),
  lockDelayMs: z.number().int().min(0).max(MAX_LOCK_DELAY_MS),
  behavior: z.enum(["release", "delete"]),
  ttl: z.string().max(32),
});
export type SessionSpec = z.infer<typeof SessionSpec>;

export const SessionCreate = z.object({ type: z.literal("SessionCreate"), v: z.literal(1), at: z.number(), session: SessionSpec });

export const SessionDestroy = z.object({
  type: z.literal("SessionDestroy"),
  v: z.literal(1),
  at: z.number(),
  id: z.string().max(64),
  /** Why: "destroy" (a client), "ttl" (the leader's timer). Only logged. */
  reason: z.enum(["destroy", "ttl"]).default("destroy"),
});

export const sessionCommands = [SessionCreate, SessionDestroy] as const;

interface NodeFact {
  id: string;
  ready: boolean;
}

/** A catalog node by name (case-insensitive): membership rows first (they carry status), then registration-only ones. */
function findNode(db: Db, name: string): NodeFact | undefined {
  const client = clientOf(db);
  const m = client.prepare("SELECT id, status FROM nodes WHERE name = ? COLLATE NOCASE ORDER BY status = 'ready' DESC, modify_index DESC LIMIT 1")
    .get(name) as { id: string; status: string } | undefined;
  if (m) return { id: m.id, ready: m.status === "ready" };
  const c = client.prepare("SELECT id FROM catalog_nodes WHERE name = ? COLLATE NOCASE LIMIT 1").get(name) as { id: string } | undefined;
  return c ? { id: c.id, ready: true } : undefined;
}

function checkStatus(db: Db, nodeId: string, check: string): string | undefined {
  const row = clientOf(db).prepare("SELECT status FROM checks WHERE node_id = ? AND check_id = ?").get(nodeId, check) as { status: string } | undefined;
  return row?.status;
}

/**
 * Why a session (new or existing) is not healthy, in Consul's words, or
 * undefined when it is. A session that names no check may belong to a node
 * the catalog does not know (a leader-role process, which registers no node
 * of its own): nothing could ever invalidate it but its TTL or a destroy.
 */
export function sessionFault(db: Db, s: Pick<SessionSpec, "node" | "nodeChecks" | "serviceChecks">): string | undefined {
  const checks = [...s.nodeChecks, ...s.serviceChecks.map((c) => c.ID)];
  if (checks.length === 0) return undefined;
  const node = findNode(db, s.node);
  if (!node) return "Missing node registration";
  for (const id of checks) {
    if (id === SERF_HEALTH) {
      if (!node.ready) return `Check '${SERF_HEALTH}' is in critical state`;
      continue;
    }
    const status = checkStatus(db, node.id, id);
    if (status === undefined) return `Missing check '${id}' registration`;
    if (status === "critical") return `Check '${id}' is in critical state`;
  }
  return undefined;
}

function applySessionCreate(db: Db, index: number, cmd: z.infer<typeof SessionCreate>): CommandResult {
  const s = cmd.session;
  const client = clientOf(db);
  if (client.prepare("SELECT 1 FROM sessions WHERE id = ?").get(s.id)) {
    return { ok: false, code: "SESSION_EXISTS", message: "Session ID already exists" };
  }
  const fault = sessionFault(db, s);
  if (fault) return { ok: false, code: "SESSION_INVALID", message: fault };
  client.prepare(
    "INSERT INTO sessions (id, name, node, node_checks, service_checks, lock_delay_ms, behavior, ttl, create_index, modify_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ).run(s.id, s.name, s.node, JSON.stringify(s.nodeChecks), JSON.stringify(s.serviceChecks), s.lockDelayMs, s.behavior, s.ttl, index, index);
  return { ok: true, value: s.id };
}

/**
 * Ends a session inside the applying transaction: its locks are released
 * (ModifyIndex moves, LockIndex stays: the next acquire increments it) or
 * its keys deleted, per Behavior; every key it held gets the lock-delay.
 * Returns false when there was no such session.
 */
export function invalidateSession(db: Db, index: number, at: number, id: string): boolean {
  const client = clientOf(db);
  const row = client.prepare("SELECT behavior, lock_delay_ms AS lockDelayMs FROM sessions WHERE id = ?").get(id) as
    | { behavior: string; lockDelayMs: number }
    | undefined;
  if (!row) return false;
  // Expired delays are forgotten here, so the table stays as small as the set of recently released keys.
  client.prepare("DELETE FROM kv_lock_delays WHERE until_ms <= ?").run(at);
  const held = client.prepare("SELECT key FROM kv WHERE session = ?").all(id) as { key: string }[];
  if (row.lockDelayMs > 0) {
    const delay = client.prepare("INSERT INTO kv_lock_delays (key, until_ms) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET until_ms = excluded.until_ms");
    for (const k of held) delay.run(k.key, at + row.lockDelayMs);
  }
  if (row.behavior === "delete") {
    const tomb = client.prepare("INSERT INTO kv_tombstones (key, delete_index) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET delete_index = excluded.delete_index");
    for (const k of held) tomb.run(k.key, index);
    client.prepare("DELETE FROM kv WHERE session = ?").run(id);
  } else {
    client.prepare("UPDATE kv SET session = '', modify_index = ? WHERE session = ?").run(index, id);
  }
  client.prepare("DELETE FROM sessions WHERE id = ?").run(id);
  return true;
}

function applySessionDestroy(db: Db, index: number, cmd: z.infer<typeof SessionDestroy>): CommandResult {
  invalidateSession(db, index, cmd.at, cmd.id);
  // Consul answers true for an unknown session too.
  return { ok: true, value: true };
}

/**
 * The health hook: after any entry that changed nodes or checks, every
 * session whose node went down (serfHealth), whose node left the catalog,
 * or one of whose checks turned critical or disappeared is invalidated in
 * the same entry (as Consul's state store does when it writes the check).
 * Returns how many. Cheap when there are no sessions (one indexed lookup).
 */
export function invalidateUnhealthySessions(db: Db, index: number, at: number): number {
  const client = clientOf(db);
  if (!client.prepare("SELECT 1 FROM sessions LIMIT 1").get()) return 0;
  const rows = client.prepare("SELECT id, node, node_checks AS nodeChecks, service_checks AS serviceChecks FROM sessions").all() as
    { id: string; node: string; nodeChecks: string; serviceChecks: string }[];
  let n = 0;
  for (const r of rows) {
    const fault = sessionFault(db, { node: r.node, nodeChecks: JSON.parse(r.nodeChecks) as string[], serviceChecks: JSON.parse(r.serviceChecks) as { ID: string }[] });
    if (fault && invalidateSession(db, index, at, r.id)) n++;
  }
  return n;
}

export const sessionAppliers = {
  SessionCreate: { tables: ["sessions"], apply: applySessionCreate },
  SessionDestroy: { tables: ["sessions", "kv"], apply: applySessionDestroy },
};

// ---- reads ----

export function getSession(db: Db, id: string): SessionRow | undefined {
  const row = clientOf(db).prepare(
    "SELECT id, name, node, node_checks AS nodeChecks, service_checks AS serviceChecks, lock_delay_ms AS lockDelayMs, behavior, ttl, create_index AS createIndex, modify_index AS modifyIndex FROM sessions WHERE id = ?",
  ).get(id) as (Omit<SessionRow, "nodeChecks" | "serviceChecks"> & { nodeChecks: string; serviceChecks: string }) | undefined;
  return row ? decode(row) : undefined;
}

export function listSessions(db: Db, node?: string): SessionRow[] {
  const sql = "SELECT id, name, node, node_checks AS nodeChecks, service_checks AS serviceChecks, lock_delay_ms AS lockDelayMs, behavior, ttl, create_index AS createIndex, modify_index AS modifyIndex FROM sessions" +
    (node === undefined ? "" : " WHERE node = ? COLLATE NOCASE") + " ORDER BY create_index, id";
  const stmt = clientOf(db).prepare(sql);
  const rows = (node === undefined ? stmt.all() : stmt.all(node)) as (Omit<SessionRow, "nodeChecks" | "serviceChecks"> & { nodeChecks: string; serviceChecks: string })[];
  return rows.map(decode);
}

function decode(r: Omit<SessionRow, "nodeChecks" | "serviceChecks"> & { nodeChecks: string; serviceChecks: string }): SessionRow {
  return { ...r, nodeChecks: JSON.parse(r.nodeChecks) as string[], serviceChecks: JSON.parse(r.serviceChecks) as SessionRow["serviceChecks"] };
}

/** Lock-delay end (ms) of a key, 0 when none. */
export function lockDelayUntil(db: Db, key: string): number {
  const row = clientOf(db).prepare("SELECT until_ms AS until FROM kv_lock_delays WHERE key = ?").get(key) as { until: number } | undefined;
  return row?.until ?? 0;
}
