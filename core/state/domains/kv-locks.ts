// KV locks (Consul's ?acquire= and ?release=): the part of a KVSet that
// involves a session. Split from kv.ts so the plain write stays the short
// hot path. Semantics as Consul's state store (kvsLockTxn, kvsUnlockTxn):
// - acquire: the session must exist (else a refusal, "Invalid session");
//   a key held by another session, or under lock-delay, is not taken
//   (false); a key already held by the same session just takes the new
//   value (LockIndex unchanged); otherwise LockIndex + 1 and Session = it;
// - release: only by the holding session (else false); Session = "",
//   LockIndex unchanged, the value and flags are written;
// - a cas index, when given too, must match first (corral checks both;
//   docs/coordination.md).
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";

export interface LockWrite {
  key: string;
  value: string;
  flags: number;
  cas?: number;
  acquire?: string;
  release?: string;
}

/** Why a lock op failed (a txn reports it), or undefined when it succeeded. */
export type LockOutcome = { ok: true } | { ok: false; why: "held" | "delay" | "not-held" | "cas" } | { ok: false; why: "invalid-session"; message: string };

export function applyLockWrite(db: Db, index: number, at: number, w: LockWrite): LockOutcome {
  const client = clientOf(db);
  const session = w.acquire ?? w.release ?? "";
  if (!client.prepare("SELECT 1 FROM sessions WHERE id = ?").get(session)) {
    return { ok: false, why: "invalid-session", message: `Invalid session ${JSON.stringify(session)}` };
  }
  const existing = client.prepare("SELECT modify_index AS modifyIndex, create_index AS createIndex, session, lock_index AS lockIndex FROM kv WHERE key = ?")
    .get(w.key) as { modifyIndex: number; createIndex: number; session: string; lockIndex: number } | undefined;
  if (w.cas !== undefined && !(w.cas === 0 ? !existing : existing?.modifyIndex === w.cas)) return { ok: false, why: "cas" };
  let holder: string;
  let lockIndex = existing?.lockIndex ?? 0;
  if (w.acquire !== undefined) {
    if (existing && existing.session !== "" && existing.session !== w.acquire) return { ok: false, why: "held" };
    if (!existing || existing.session !== w.acquire) {
      const delay = client.prepare("SELECT until_ms AS until FROM kv_lock_delays WHERE key = ?").get(w.key) as { until: number } | undefined;
      if (delay && delay.until > at) return { ok: false, why: "delay" };
      if (delay) client.prepare("DELETE FROM kv_lock_delays WHERE key = ?").run(w.key);
      lockIndex++;
    }
    holder = w.acquire;
  } else {
    if (!existing || existing.session !== w.release) return { ok: false, why: "not-held" };
    holder = "";
  }
  client.prepare(
    "INSERT INTO kv (key, value, flags, create_index, modify_index, session, lock_index) VALUES (?, ?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value, flags = excluded.flags, modify_index = excluded.modify_index, session = excluded.session, lock_index = excluded.lock_index",
  ).run(w.key, w.value, w.flags, existing?.createIndex ?? index, index, holder, lockIndex);
  client.prepare("DELETE FROM kv_tombstones WHERE key = ?").run(w.key);
  return { ok: true };
}

/** A KVSet with acquire or release, as the /v1/kv route reports it: true, false, or a refusal (500 in Consul). */
export function lockWriteResult(out: LockOutcome): CommandResult {
  if (out.ok) return { ok: true, value: true };
  if (out.why === "invalid-session") return { ok: false, code: "INVALID_SESSION", message: out.message };
  return { ok: true, value: false };
}
