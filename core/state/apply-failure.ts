// Tells the two kinds of applier failure apart (docs/security.md, "Bad state").
//
// A committed entry must have the same outcome on every replica, forever: an
// entry that throws on every replica can never be applied, and a Raft log
// cannot skip it, so before this split one bad entry (a restored snapshot
// with one invalid row) wedged every leader, restarts included.
//   - Deterministic failures (a constraint, a type mismatch, a bug in an
//     applier): the same state and the same command fail the same way on
//     every replica. They become a refusal (APPLY_FAILED) that consumes the
//     index, like any other refusal, and the applier's partial changes are
//     rolled back (the Fsm runs each applier in a savepoint).
//   - Storage failures (disk full, I/O error, corruption, a lock held by
//     another process): they depend on this machine, not on the entry.
//     Treating them as a refusal would let this replica's state diverge, so
//     they stay errors and stop the node (core/cluster/raft/replicator.ts).

/** SQLite primary result codes that say "this machine", not "this entry". */
const STORAGE_CODES = new Set([
  "BUSY", "LOCKED", "NOMEM", "READONLY", "INTERRUPT", "IOERR", "CORRUPT", "FULL", "CANTOPEN",
  "PROTOCOL", "NOTADB", "PERM", "AUTH", "NOLFS",
]);
/** The same by number (node:sqlite reports errcode, the others also errno); extended codes keep the primary in the low byte. */
const STORAGE_ERRNOS = new Set([3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 22, 23, 26]);

export function isStorageFailure(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as { code?: unknown; errno?: unknown; errcode?: unknown; errstr?: unknown };
  for (const c of [e.code, e.errstr]) {
    if (typeof c !== "string") continue;
    const m = /^SQLITE_([A-Z]+)/.exec(c);
    if (m) return STORAGE_CODES.has(m[1]!);
  }
  for (const n of [e.errcode, e.errno]) {
    if (typeof n === "number" && n > 0) return STORAGE_ERRNOS.has(n & 0xff);
  }
  return false;
}

/** The refusal an entry whose applier threw deterministically becomes. */
export function applyFailedResult(err: unknown): { ok: false; code: "APPLY_FAILED"; message: string } {
  const msg = err instanceof Error ? err.message : String(err);
  return { ok: false, code: "APPLY_FAILED", message: `command could not be applied: ${msg.slice(0, 400)}` };
}
