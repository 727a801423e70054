// The KV store (Consul's /v1/kv semantics): commands and appliers.
// Values travel and are stored as standard base64 text, so the log, the
// snapshot and every SQLite driver see the same bytes.
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import { kv, kvTombstones } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";
import { applyLockWrite, lockWriteResult } from "./kv-locks.ts";
import { kvTombstoneFloor } from "./kv-tombstones.ts";

/** Consul's limit on one value. */
export const MAX_KV_VALUE_BYTES = 512 * 1024;

const key = z.string().min(1).max(1024);

export const KVSet = z.object({
  type: z.literal("KVSet"),
  v: z.literal(1),
  at: z.number(),
  key,
  /** Standard base64 of the value's bytes. */
  value: z.string().max(Math.ceil(MAX_KV_VALUE_BYTES / 3) * 4),
  flags: z.number().int().nonnegative().default(0),
  /** Check-and-set: 0 = only if absent; N = only if ModifyIndex is N. */
  cas: z.number().int().nonnegative().optional(),
  /** Take the key's lock for this session (Consul's ?acquire=): kv-locks.ts. */
  acquire: z.string().min(1).max(64).optional(),
  /** Give it back (Consul's ?release=). */
  release: z.string().min(1).max(64).optional(),
});

export const KVDelete = z.object({
  type: z.literal("KVDelete"),
  v: z.literal(1),
  at: z.number(),
  key: z.string().max(1024),
  recurse: z.boolean().default(false),
  cas: z.number().int().nonnegative().optional(),
});

export const kvCommands = [KVSet, KVDelete] as const;

/** LIKE pattern for "starts with prefix", with SQL wildcards escaped. */
export function prefixPattern(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
}

// Plain SQL: the KV write is the hottest applier (see clientOf).
function applyKVSet(db: Db, index: number, cmd: z.infer<typeof KVSet>): CommandResult {
  if (cmd.acquire !== undefined || cmd.release !== undefined) return lockWriteResult(applyLockWrite(db, index, cmd.at, cmd));
  const client = clientOf(db);
  const existing = client.prepare("SELECT modify_index AS modifyIndex, create_index AS createIndex FROM kv WHERE key = ?").get(cmd.key) as
    | { modifyIndex: number; createIndex: number }
    | undefined;
  if (cmd.cas !== undefined) {
    const ok = cmd.cas === 0 ? !existing : existing?.modifyIndex === cmd.cas;
    if (!ok) return { ok: true, value: false };
  }
  client.prepare(
    "INSERT INTO kv (key, value, flags, create_index, modify_index) VALUES (?, ?, ?, ?, ?) " +
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, flags = excluded.flags, modify_index = excluded.modify_index",
  ).run(cmd.key, cmd.value, cmd.flags, existing?.createIndex ?? index, index);
  client.prepare("DELETE FROM kv_tombstones WHERE key = ?").run(cmd.key);
  return { ok: true, value: true };
}

function applyKVDelete(db: Db, index: number, cmd: z.infer<typeof KVDelete>): CommandResult {
  if (cmd.recurse) {
    const where = cmd.key === "" ? undefined : sql`${kv.key} LIKE ${prefixPattern(cmd.key)} ESCAPE '\\'`;
    const keys = db.select({ key: kv.key }).from(kv).where(where).all();
    db.delete(kv).where(where).run();
    for (const k of keys) tombstone(db, k.key, index);
    return { ok: true, value: true };
  }
  const existing = db.select({ modifyIndex: kv.modifyIndex }).from(kv).where(eq(kv.key, cmd.key)).get();
  if (cmd.cas !== undefined && (cmd.cas === 0 || existing?.modifyIndex !== cmd.cas)) return { ok: true, value: false };
  if (existing) {
    db.delete(kv).where(eq(kv.key, cmd.key)).run();
    tombstone(db, cmd.key, index);
  }
  return { ok: true, value: true };
}

/**
 * A deleted key leaves a tombstone carrying the delete's index, so that a
 * prefix query's index still moves forward when a key under it disappears
 * (Consul does the same). A later write of the key removes its tombstone.
 */
function tombstone(db: Db, key: string, index: number) {
  db.insert(kvTombstones).values({ key, deleteIndex: index }).onConflictDoUpdate({ target: kvTombstones.key, set: { deleteIndex: index } }).run();
}

export const kvAppliers = {
  KVSet: { tables: ["kv"], apply: applyKVSet },
  KVDelete: { tables: ["kv"], apply: applyKVDelete },
};

// ---- reads ----

export interface KvEntry {
  key: string;
  value: string;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  /** The lock holder's session id, "" when none (kv-locks.ts). */
  session?: string;
  lockIndex?: number;
}

// Plain SQL, like the appliers: every blocking read of a key re-reads it on
// each KV write, and so does every acquire the leader refuses before the log
// (bench/locks.ts: drizzle building this select was a tenth of the leader's
// CPU with 16 contenders waiting on one lock).
export function kvGet(db: Db, k: string): KvEntry | undefined {
  return clientOf(db).prepare(
    "SELECT key, value, flags, create_index AS createIndex, modify_index AS modifyIndex, session, lock_index AS lockIndex FROM kv WHERE key = ?",
  ).get(k) as KvEntry | undefined;
}

export function kvList(db: Db, prefix: string): KvEntry[] {
  const where = prefix === "" ? undefined : sql`${kv.key} LIKE ${prefixPattern(prefix)} ESCAPE '\\'`;
  return db.select().from(kv).where(where).orderBy(asc(kv.key)).all();
}

/**
 * Highest index that changed anything under `prefix` (writes and deletes).
 * With `visible`, only keys it accepts count: a token's index must not move
 * when a key it may not read changes (that would tell it the key exists).
 */
export function kvPrefixIndex(db: Db, prefix: string, visible?: (key: string) => boolean): number {
  const pattern = prefixPattern(prefix);
  const liveWhere = prefix === "" ? undefined : sql`${kv.key} LIKE ${pattern} ESCAPE '\\'`;
  const deadWhere = prefix === "" ? undefined : sql`${kvTombstones.key} LIKE ${pattern} ESCAPE '\\'`;
  if (visible) {
    let max = 0;
    for (const r of db.select({ key: kv.key, m: kv.modifyIndex }).from(kv).where(liveWhere).all()) if (r.m > max && visible(r.key)) max = r.m;
    for (const r of db.select({ key: kvTombstones.key, m: kvTombstones.deleteIndex }).from(kvTombstones).where(deadWhere).all()) if (r.m > max && visible(r.key)) max = r.m;
    return Math.max(max, kvTombstoneFloor(db));
  }
  const live = db.select({ m: sql<number | null>`max(${kv.modifyIndex})` }).from(kv).where(liveWhere).get();
  const dead = db.select({ m: sql<number | null>`max(${kvTombstones.deleteIndex})` }).from(kvTombstones).where(deadWhere).get();
  // Reaped tombstones (kv-tombstones.ts) leave their highest index as a floor: an index never goes back.
  return Math.max(live?.m ?? 0, dead?.m ?? 0, kvTombstoneFloor(db));
}

/**
 * The index a blocking read of one key answers: its ModifyIndex, or for a
 * missing key the index under it as a prefix (at least 1, as Consul's).
 */
export function kvKeyIndex(state: { kvGet(key: string): KvEntry | undefined; kvPrefixIndex(prefix: string): number }, key: string): number {
  const e = state.kvGet(key);
  return e ? e.modifyIndex : Math.max(state.kvPrefixIndex(key), 1);
}
