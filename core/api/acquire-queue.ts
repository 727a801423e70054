// The active leader's acquires of one key: one proposal at a time, and the
// free key offered first to the session that has waited longest.
//
// One at a time: when a lock is released, every waiting contender (Consul's
// recipe wakes them all with its blocking read) sends ?acquire= at once;
// each would be a replicated, fsynced log entry that all but one lose. Here
// the first is proposed and the others wait for it, then look again: the key
// is now held, so they are answered false without a log entry.
//
// Longest waiter first: in Consul the acquire that arrives first after a
// release wins, and that is nearly always the releaser's own next acquire (it
// has its answer while the others are still being woken), so with 16
// contenders a few win again and again and the rest wait seconds
// (bench/locks.ts: p99 5.9 s at a p50 of 35 ms). etcd's lock is first come,
// first served. So the sessions refused while the key was taken are
// remembered in order, and while one of them is alive an acquire of the free
// key by anyone else is held (not answered) until that session's acquire
// arrives and is proposed, or for at most HOLD_MS; then the sessions ahead
// that did not come are forgotten. Only the timing of answers changes: every
// answer is still the one the state gives when it is decided (false only
// when the key is held or under lock-delay), the applier still decides every
// proposed acquire, and a holder's re-acquire is never held. A session that
// was refused once and gave up costs the next hand-over HOLD_MS at most once.

/** How long an acquire of a free key waits for the sessions refused before it (one wake-up of a blocking read, with room for a loaded machine). */
export const HOLD_MS = 250;

/**
 * What the state says about one session's acquire of a key right now:
 * refused (held by another, or lock-delay), free (first come, longest waiter
 * first), direct (propose it as it is: the holder's re-acquire, or a session
 * that does not exist, which the applier answers).
 */
export type AcquireView = "refused" | "free" | "direct";

interface KeyState {
  /** Runs of this key in progress: the state is dropped only when none is and nobody waits. */
  active: number;
  inflight?: Promise<unknown>;
  /** Sessions refused while the key was taken, oldest first (a Map keeps insertion order). */
  waiters: Map<string, true>;
  /** Wakes held acquires when a proposal of this key starts. */
  turn: { promise: Promise<void>; resolve: () => void };
}

const turn = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

export interface AcquireQueueOptions {
  /** Whether a session still exists (a destroyed waiter is skipped at once). */
  alive(session: string): boolean;
  holdMs?: number;
}

export class AcquireQueue {
  private keys = new Map<string, KeyState>();
  private readonly holdMs: number;

  constructor(private readonly o: AcquireQueueOptions) {
    this.holdMs = o.holdMs ?? HOLD_MS;
  }

  /**
   * `view()`: the state's answer now. `propose()`: the real attempt. false:
   * refused without proposing, or `signal` aborted (the client is gone)
   * before it was proposed: nothing is taken for a client that cannot learn it.
   */
  async run<T>(key: string, session: string, view: () => AcquireView, propose: () => Promise<T>, signal?: AbortSignal): Promise<T | false> {
    const k = this.state(key);
    k.active++;
    let heldSince: number | undefined;
    try {
      for (;;) {
        const v = view();
        if (v === "refused") {
          if (!k.waiters.has(session)) k.waiters.set(session, true);
          return false;
        }
        if (k.inflight) {
          await k.inflight.catch(() => undefined);
          continue;
        }
        if (v === "free" && this.someoneAhead(k, session)) {
          heldSince ??= Date.now();
          const left = heldSince + this.holdMs - Date.now();
          if (left > 0) {
            await waitFor(k.turn.promise, left);
            continue;
          }
          // They did not come back in time: forget every session ahead of this one.
          for (const s of [...k.waiters.keys()]) {
            if (s === session) break;
            k.waiters.delete(s);
          }
          continue;
        }
        if (signal?.aborted) return false;
        k.waiters.delete(session);
        const p = propose();
        k.inflight = p;
        const woken = k.turn;
        k.turn = turn();
        woken.resolve();
        try {
          return await p;
        } finally {
          if (k.inflight === p) k.inflight = undefined;
        }
      }
    } finally {
      k.active--;
      if (k.active === 0 && k.waiters.size === 0) this.keys.delete(key);
    }
  }

  /**
   * `session` took `key` another way (a release handed it over, core/api/lock-waits.ts):
   * it no longer waits, so nobody is held for it.
   */
  granted(key: string, session: string): void {
    const k = this.keys.get(key);
    if (!k) return;
    k.waiters.delete(session);
    if (k.active === 0 && k.waiters.size === 0) this.keys.delete(key);
  }

  /** Keys with state (tests: nothing is kept for keys nobody waits on). */
  size(): number {
    return this.keys.size;
  }

  private state(key: string): KeyState {
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = { active: 0, waiters: new Map(), turn: turn() }));
    return k;
  }

  /** A live session refused before `session` (dead ones are dropped on the way). */
  private someoneAhead(k: KeyState, session: string): boolean {
    for (const s of k.waiters.keys()) {
      if (s === session) return false;
      if (this.o.alive(s)) return true;
      k.waiters.delete(s);
    }
    return false;
  }
}

function waitFor(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}
