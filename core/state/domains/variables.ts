// Variables (Nomad's /v1/var): commands, appliers and reads. Every command
// carries ciphertext only: the leader encrypts before it proposes
// (core/variables/service.ts), so the log, state.db and snapshots never hold
// an item in clear. Appliers are plain SQL and never decrypt.
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { variableTombstoneFloor } from "./variable-tombstones.ts";

const namespace = z.string().min(1).max(128);
const path = z.string().min(1).max(128);
// The largest variable (64 KiB of items, limits.ts) as JSON can be 6 times that
// (every character escaped as \u00XX), then base64: about 525,000 characters.
const b64 = z.string().max(600_000);

/** A new data key, wrapped; it becomes the active one (`ifNone`: only when the keyring is empty). */
export const VarKeyAdd = z.object({
  type: z.literal("VarKeyAdd"),
  v: z.literal(1),
  at: z.number(),
  id: z.string().uuid(),
  wrapped: b64,
  nonce: b64,
  ifNone: z.boolean().default(false),
});

export const VarPut = z.object({
  type: z.literal("VarPut"),
  v: z.literal(1),
  at: z.number(),
  namespace,
  path,
  keyId: z.string().uuid(),
  nonce: b64,
  data: b64,
  /** Check-and-set: 0 = only if absent; N = only if ModifyIndex is N. */
  cas: z.number().int().nonnegative().optional(),
});

export const VarDelete = z.object({
  type: z.literal("VarDelete"),
  v: z.literal(1),
  at: z.number(),
  namespace,
  path,
  cas: z.number().int().nonnegative().optional(),
});

export const variableCommands = [VarKeyAdd, VarPut, VarDelete] as const;

export interface VariableMeta {
  namespace: string;
  path: string;
  createIndex: number;
  modifyIndex: number;
  createTime: number;
  modifyTime: number;
}

export interface VariableRow extends VariableMeta {
  keyId: string;
  nonce: string;
  data: string;
}

export interface KeyRow {
  id: string;
  wrapped: string;
  nonce: string;
  active: number;
  createIndex: number;
  createTime: number;
}

/** What a VarPut or VarDelete answers: done, or the cas did not match (with what is there now). */
export type VarWriteResult = { written: true; meta?: VariableMeta } | { written: false; conflict: VariableMeta | null };

export const VARIABLE_META_COLUMNS = "namespace, path, create_index AS createIndex, modify_index AS modifyIndex, create_time AS createTime, modify_time AS modifyTime";
const ROW = `${VARIABLE_META_COLUMNS}, key_id AS keyId, nonce, data`;

function casHolds(cas: number | undefined, existing: VariableMeta | undefined): boolean {
  if (cas === undefined) return true;
  return cas === 0 ? !existing : existing?.modifyIndex === cas;
}

function applyVarKeyAdd(db: Db, index: number, cmd: z.infer<typeof VarKeyAdd>): CommandResult {
  const client = clientOf(db);
  if (cmd.ifNone && client.prepare("SELECT 1 FROM variable_keys LIMIT 1").get()) return { ok: true, value: { added: false } };
  client.prepare("UPDATE variable_keys SET active = 0 WHERE active = 1").run();
  client.prepare("INSERT OR REPLACE INTO variable_keys (id, wrapped, nonce, active, create_index, create_time) VALUES (?, ?, ?, 1, ?, ?)")
    .run(cmd.id, cmd.wrapped, cmd.nonce, index, cmd.at);
  return { ok: true, value: { added: true } };
}

function applyVarPut(db: Db, index: number, cmd: z.infer<typeof VarPut>): CommandResult {
  const client = clientOf(db);
  if (!client.prepare("SELECT 1 FROM variable_keys WHERE id = ?").get(cmd.keyId)) {
    return { ok: false, code: "INVALID_INPUT", message: `no keyring key ${cmd.keyId}` };
  }
  const existing = getVariableMeta(db, cmd.namespace, cmd.path);
  if (!casHolds(cmd.cas, existing)) return { ok: true, value: { written: false, conflict: existing ?? null } satisfies VarWriteResult };
  client.prepare(
    "INSERT INTO variables (namespace, path, key_id, nonce, data, create_index, modify_index, create_time, modify_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (namespace, path) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce, data = excluded.data, modify_index = excluded.modify_index, modify_time = excluded.modify_time",
  ).run(cmd.namespace, cmd.path, cmd.keyId, cmd.nonce, cmd.data, existing?.createIndex ?? index, index, existing?.createTime ?? cmd.at, cmd.at);
  client.prepare("DELETE FROM variable_tombstones WHERE namespace = ? AND path = ?").run(cmd.namespace, cmd.path);
  return { ok: true, value: { written: true, meta: getVariableMeta(db, cmd.namespace, cmd.path) } satisfies VarWriteResult };
}

function applyVarDelete(db: Db, index: number, cmd: z.infer<typeof VarDelete>): CommandResult {
  const existing = getVariableMeta(db, cmd.namespace, cmd.path);
  if (!casHolds(cmd.cas, existing)) return { ok: true, value: { written: false, conflict: existing ?? null } satisfies VarWriteResult };
  clientOf(db).prepare("DELETE FROM variables WHERE namespace = ? AND path = ?").run(cmd.namespace, cmd.path);
  // A blocking read of this path (or a prefix over it) wakes with this index (variableIndex).
  if (existing) clientOf(db).prepare("INSERT OR REPLACE INTO variable_tombstones (namespace, path, delete_index) VALUES (?, ?, ?)").run(cmd.namespace, cmd.path, index);
  return { ok: true, value: { written: true } satisfies VarWriteResult };
}

export const variableAppliers = {
  VarKeyAdd: { tables: ["variable_keys"], apply: applyVarKeyAdd },
  VarPut: { tables: ["variables"], apply: applyVarPut },
  VarDelete: { tables: ["variables"], apply: applyVarDelete },
};

// ---- reads ----

export function getVariableMeta(db: Db, ns: string, p: string): VariableMeta | undefined {
  return clientOf(db).prepare(`SELECT ${VARIABLE_META_COLUMNS} FROM variables WHERE namespace = ? AND path = ?`).get(ns, p) as VariableMeta | undefined;
}

export function getVariable(db: Db, ns: string, p: string): VariableRow | undefined {
  return clientOf(db).prepare(`SELECT ${ROW} FROM variables WHERE namespace = ? AND path = ?`).get(ns, p) as VariableRow | undefined;
}

/** Metadata under `prefix` (plain string prefix, compared exactly), by path; `namespace` undefined: every namespace. */
export function listVariables(db: Db, ns: string | undefined, prefix: string): VariableMeta[] {
  const rows = (ns === undefined
    ? clientOf(db).prepare(`SELECT ${VARIABLE_META_COLUMNS} FROM variables ORDER BY namespace, path`).all()
    : clientOf(db).prepare(`SELECT ${VARIABLE_META_COLUMNS} FROM variables WHERE namespace = ? ORDER BY path`).all(ns)) as VariableMeta[];
  return rows.filter((r) => r.path.startsWith(prefix));
}

export interface VariableTombstone {
  namespace: string;
  path: string;
  deleteIndex: number;
}

/** Deleted variables under `prefix` with their delete's index; `namespace` undefined: every namespace. */
export function listVariableTombstones(db: Db, ns: string | undefined, prefix: string): VariableTombstone[] {
  const cols = "namespace, path, delete_index AS deleteIndex";
  const rows = (ns === undefined
    ? clientOf(db).prepare(`SELECT ${cols} FROM variable_tombstones`).all()
    : clientOf(db).prepare(`SELECT ${cols} FROM variable_tombstones WHERE namespace = ?`).all(ns)) as VariableTombstone[];
  return rows.filter((r) => r.path.startsWith(prefix));
}

/**
 * The index of one path: its last write, else its last delete, else 1 (never
 * there); a missing path's at least the reaped tombstones' floor
 * (variable-tombstones.ts), so it never goes back when its tombstone is reaped.
 */
export function variableIndex(db: Db, ns: string, p: string): number {
  const row = getVariableMeta(db, ns, p);
  if (row) return row.modifyIndex;
  const t = clientOf(db).prepare("SELECT delete_index AS d FROM variable_tombstones WHERE namespace = ? AND path = ?").get(ns, p) as { d: number } | undefined;
  return Math.max(t?.d ?? 1, variableTombstoneFloor(db), 1);
}

/** The index of a list: the highest write and delete among `live` and `gone` (the readable ones), at least the reaped tombstones' floor and 1. */
export function variableListIndex(db: Db, live: readonly VariableMeta[], gone: readonly VariableTombstone[]): number {
  const at = gone.reduce((m, t) => Math.max(m, t.deleteIndex), live.reduce((m, v) => Math.max(m, v.modifyIndex), 1));
  return Math.max(at, variableTombstoneFloor(db));
}

/** Every variable with its ciphertext (a -full rotation re-encrypts them). */
export function allVariables(db: Db): VariableRow[] {
  return clientOf(db).prepare(`SELECT ${ROW} FROM variables ORDER BY namespace, path`).all() as VariableRow[];
}

export function listKeys(db: Db): KeyRow[] {
  return clientOf(db).prepare("SELECT id, wrapped, nonce, active, create_index AS createIndex, create_time AS createTime FROM variable_keys ORDER BY create_index").all() as KeyRow[];
}
