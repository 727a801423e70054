// One KV write with ?acquire= or ?release=, as both the /v1/kv route
// (core/api/kv.ts) and the write fast path (core/api/kv-fast.ts) make it, so
// the two cannot decide differently: an acquire on the active leader goes
// through the per-key AcquireQueue and is refused before the log when the
// state already says no; everything else is proposed as it is. The answer is
// Consul's: true, false, or the 500 "Invalid session" error.
import { consulError } from "../http/errors.ts";
import type { StateReader } from "../state/reader.ts";
import type { Replicator, ProposeOutcome } from "../state/replicator.ts";
import type { Command } from "../state/commands.ts";
import type { LockWrite } from "../state/domains/kv-locks.ts";
import { AcquireQueue, type AcquireView } from "./acquire-queue.ts";

export interface LockWriteDeps {
  state: StateReader;
  replicator?: Replicator;
  propose: (cmd: Command) => Promise<ProposeOutcome>;
}

/** The replicated lock write (value: standard base64 of the body), and the client's request it came from. */
export interface LockWriteRequest extends LockWrite {
  /** The client's request: an acquire held in the queue is dropped if it goes away. */
  signal?: AbortSignal;
}

/** Writes one KV entry that takes or gives back a lock; one per node (the queue coalesces acquires of a key). */
export type LockWriter = (w: LockWriteRequest) => Promise<boolean>;

export function lockWriter(d: LockWriteDeps): LockWriter {
  const acquires = new AcquireQueue({ alive: (s) => d.state.sessions.get(s) !== undefined });
  return async (w) => {
    const cmd: Command = { type: "KVSet", v: 1, at: Date.now(), key: w.key, value: w.value, flags: w.flags, cas: w.cas, acquire: w.acquire, release: w.release };
    const signal = w.signal;
    const acquire = w.acquire;
    const out = acquire !== undefined && d.replicator?.status().isLeader
      ? await acquires.run(w.key, acquire, () => acquireView(d.state, w.key, acquire), () => d.propose({ ...cmd, at: Date.now() }), signal)
      : await d.propose(cmd);
    if (out === false) return false;
    // An acquire or release naming no live session is an error in Consul (500 "Invalid session"), not a false.
    if (!out.result.ok && out.result.code === "INVALID_SESSION") throw consulError(500, out.result.message);
    return out.result.ok ? out.result.value === true : false;
  };
}

/**
 * What the active leader's state says of an acquire (core/api/acquire-queue.ts).
 * An acquire the active leader can already see will fail (the key is held
 * by another session, or under lock-delay) is answered false without a log
 * entry, as Consul checks lock-delay before Raft. Waiting contenders all
 * retry when a lock changes hands; without this every losing retry was a
 * replicated, fsynced write. A false answer is always safe: it takes
 * nothing. The applier still decides every acquire that is proposed.
 * A session that does not exist is left to the applier, whose answer is
 * Consul's 500 "Invalid session" (Consul checks the session in its state
 * store, after Raft; only lock-delay comes before it).
 */
export function acquireView(state: StateReader, key: string, session: string): AcquireView {
  const e = state.kvGet(key);
  if (e?.session === session) return "direct"; // the holder's re-acquire: a new value, nothing to wait for
  if (state.sessions.lockDelayUntil(key) > Date.now()) return "refused";
  if (state.sessions.get(session) === undefined) return "direct"; // the applier's answer: Invalid session
  return e?.session ? "refused" : "free";
}
