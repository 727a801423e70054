// One KV write with ?acquire= or ?release=, as both the /v1/kv route
// (core/api/kv.ts) and the write fast path (core/api/kv-fast.ts) make it, so
// the two cannot decide differently: an acquire on the active leader goes
// through the per-key AcquireQueue and is refused before the log when the
// state already says no; everything else is proposed as it is. The answer is
// Consul's: true, false, or the 500 "Invalid session" error.
//
// With `wait` (corral's waiting acquire, core/api/lock-waits.ts) a refused
// acquire waits on the active leader for its turn instead of answering
// false, and a release hands the key to the first waiter in its own log entry.
import { consulError } from "../http/errors.ts";
import { parseGoDurationMs } from "../http/consul.ts";
import type { StateReader } from "../state/reader.ts";
import type { Replicator, ProposeOutcome } from "../state/replicator.ts";
import type { Command } from "../state/commands.ts";
import type { LockWrite } from "../state/domains/kv-locks.ts";
import type { TxnOp, TxnOutcome } from "../state/domains/txn.ts";
import { kvKeyIndex } from "../state/domains/kv.ts";
import { AcquireQueue, type AcquireView } from "./acquire-queue.ts";
import { LockWaits, type LockWaiter } from "./lock-waits.ts";

export interface LockWriteDeps {
  state: StateReader;
  replicator?: Replicator;
  propose: (cmd: Command) => Promise<ProposeOutcome>;
}

/** The replicated lock write (value: standard base64 of the body), and the client's request it came from. */
export interface LockWriteRequest extends LockWrite {
  /** The client's request: an acquire held in the queue is dropped if it goes away. */
  signal?: AbortSignal;
  /** An acquire's `wait` (ms, > 0): wait for the key instead of answering false while it is held. */
  waitMs?: number;
}

/** Writes one KV entry that takes or gives back a lock; one per node (the queue coalesces acquires of a key). */
export type LockWriter = (w: LockWriteRequest) => Promise<boolean>;

/** The longest `wait` of a waiting acquire, as of a blocking read (Consul's 10 minutes). */
const MAX_LOCK_WAIT_MS = 10 * 60_000;

/**
 * An acquire's `wait` from its query (ms), or undefined: none, or not an
 * acquire (Consul ignores `wait` on other writes). The route and the fast
 * path both read it here. A bad duration is Consul's blocking-read error;
 * `cas` with `wait` is refused (the index would be compared at some later
 * hand-over, against a key that moved meanwhile).
 */
export function lockWaitMs(q: URLSearchParams): number | undefined {
  const raw = q.get("wait");
  if (!q.has("acquire") || raw === null || raw === "") return undefined;
  const ms = parseGoDurationMs(raw);
  if (ms === undefined) throw consulError(400, "Invalid wait time");
  if (q.has("cas")) throw consulError(400, "Conflicting flags: cas and wait");
  return ms > 0 ? Math.min(ms, MAX_LOCK_WAIT_MS) : undefined;
}

/** A waiting acquire looks at the leader's role (and its deadline) at least this often. */
const RECHECK_MS = 1000;

export function lockWriter(d: LockWriteDeps): LockWriter {
  const alive = (s: string) => d.state.sessions.get(s) !== undefined;
  const acquires = new AcquireQueue({ alive });
  const waits = new LockWaits();
  const isLeader = () => d.replicator?.status().isLeader === true;

  /** Consul's answer from a proposed KVSet with acquire/release. */
  const answer = (out: ProposeOutcome | false): boolean => {
    if (out === false) return false;
    // An acquire or release naming no live session is an error in Consul (500 "Invalid session"), not a false.
    if (!out.result.ok && out.result.code === "INVALID_SESSION") throw consulError(500, out.result.message);
    return out.result.ok ? out.result.value === true : false;
  };

  const commandOf = (w: LockWrite): Command => ({
    type: "KVSet", v: 1, at: Date.now(), key: w.key, value: w.value, flags: w.flags, cas: w.cas, acquire: w.acquire, release: w.release,
  });

  /** An acquire through the per-key queue (the active leader), or proposed as it is. */
  const tryAcquire = async (w: LockWriteRequest & { acquire: string }): Promise<ProposeOutcome | false> =>
    isLeader()
      ? acquires.run(w.key, w.acquire, () => acquireView(d.state, w.key, w.acquire), () => d.propose(commandOf(w)), w.signal)
      : d.propose(commandOf(w));

  /**
   * A release that gives the key to its first live waiter in the same entry:
   * a Txn [unlock by the holder, lock by the waiter]. undefined: nothing to
   * hand over, or the Txn was refused at the unlock (the caller then proposes
   * the plain release, whose answer is Consul's for every case).
   */
  const handOver = async (w: LockWriteRequest & { release: string }): Promise<boolean | undefined> => {
    const next = waits.handOverTarget(w.key, Date.now(), alive, w.release);
    if (!next) return undefined;
    next.claimed = true;
    const ops: TxnOp[] = [
      { kind: "kv", verb: "unlock", key: w.key, value: w.value, flags: w.flags, index: 0, session: w.release },
      { kind: "kv", verb: "lock", key: w.key, value: next.value, flags: next.flags, index: 0, session: next.session },
    ];
    let outcome: TxnOutcome | undefined;
    try {
      const out = await d.propose({ type: "Txn", v: 1, at: Date.now(), ops });
      if (out.result.ok) outcome = out.result.value as TxnOutcome;
    } finally {
      next.claimed = false;
      // Granted, or not: refused at the unlock (the plain release below answers the releaser), or at the
      // lock (the waiter's session ended meanwhile: its own next attempt gets Consul's "Invalid session").
      if (outcome?.errors.length === 0) {
        next.granted = true;
        acquires.granted(w.key, next.session);
      }
      next.kick();
    }
    return outcome?.errors.length === 0 ? true : undefined;
  };

  /** A refused acquire with `wait`: first come, first served, until the key is ours or the wait ends. */
  const waitForKey = async (w: LockWriteRequest & { acquire: string; waitMs: number }): Promise<boolean> => {
    let kicked!: () => void;
    let woken = new Promise<void>((r) => (kicked = r));
    const me: LockWaiter = {
      session: w.acquire, value: w.value, flags: w.flags, deadline: Date.now() + w.waitMs, signal: w.signal, claimed: false,
      kick: () => kicked(),
    };
    const onAbort = () => me.kick();
    w.signal?.addEventListener("abort", onAbort);
    waits.add(w.key, me);
    try {
      for (;;) {
        if (me.granted !== undefined) return me.granted;
        const left = me.deadline - Date.now();
        if (!me.claimed && (w.signal?.aborted || left <= 0 || !isLeader())) return false;
        // Its session ended while it waited: the applier's answer now (Consul's 500 "Invalid session"), not at the key's turn.
        if (!me.claimed && !alive(me.session)) return answer(await d.propose(commandOf(w)));
        const first = waits.first(w.key) === me;
        if (first && !me.claimed) {
          const out = await tryAcquire(w);
          if (me.granted !== undefined) return me.granted; // a hand-over decided meanwhile
          if (out !== false) return answer(out);
        }
        // Wait for a kick (first now, claimed, granted, client gone), a change
        // of the key (first only: it may have been freed some other way), the
        // end of a lock-delay, or the periodic re-check.
        const delayLeft = d.state.sessions.lockDelayUntil(w.key) - Date.now();
        const sleep = Math.max(1, Math.min(RECHECK_MS, Math.max(0, left), delayLeft > 0 ? delayLeft + 1 : RECHECK_MS));
        const watch = new AbortController();
        const waits_: Promise<unknown>[] = [woken];
        if (first && !me.claimed) {
          const since = kvKeyIndex(d.state, w.key);
          waits_.push(d.state.blocking({ tables: [{ table: "kv", prefix: w.key }], minIndex: since, waitMs: sleep, signal: watch.signal }, () => ({ index: kvKeyIndex(d.state, w.key), value: undefined })));
        } else waits_.push(new Promise((r) => setTimeout(r, sleep)));
        await Promise.race(waits_);
        watch.abort();
        woken = new Promise<void>((r) => (kicked = r));
      }
    } finally {
      w.signal?.removeEventListener("abort", onAbort);
      waits.remove(w.key, me);
    }
  };

  /**
   * A waiting acquire on a node that is not the active leader (it reached a
   * follower through an agent, or leadership moved while it was passed on):
   * it still waits, by trying again each time this node's copy of the key
   * changes, but holds no place in the leader's queue.
   */
  const waitElsewhere = async (w: LockWriteRequest & { acquire: string; waitMs: number }): Promise<boolean> => {
    const deadline = Date.now() + w.waitMs;
    for (;;) {
      const since = kvKeyIndex(d.state, w.key);
      const ok = answer(await tryAcquire(w));
      const left = deadline - Date.now();
      if (ok || left <= 0 || w.signal?.aborted) return ok;
      if (isLeader()) return waitForKey({ ...w, waitMs: left });
      await d.state.blocking({ tables: [{ table: "kv", prefix: w.key }], minIndex: since, waitMs: Math.min(left, RECHECK_MS), signal: w.signal }, () => ({ index: kvKeyIndex(d.state, w.key), value: undefined }));
    }
  };

  return async (w) => {
    const { acquire, release } = w;
    if (acquire !== undefined) {
      if (w.waitMs && !isLeader()) return waitElsewhere({ ...w, acquire, waitMs: w.waitMs });
      const out = await tryAcquire({ ...w, acquire });
      if (out !== false || !w.waitMs || !isLeader()) return answer(out);
      return waitForKey({ ...w, acquire, waitMs: w.waitMs });
    }
    if (release !== undefined && w.cas === undefined && isLeader() && waits.has(w.key)) {
      const handed = await handOver({ ...w, release });
      if (handed !== undefined) return handed;
    }
    return answer(await d.propose(commandOf(w)));
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
