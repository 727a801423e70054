// Waiting acquires: `PUT /v1/kv/<key>?acquire=<session>&wait=<duration>`,
// corral's one extension to Consul's lock API (docs/coordination.md,
// "Waiting acquires"). Without `wait` an acquire of a held key answers false
// at once, as in Consul. With it, the request waits on the active leader, in
// a first-come queue per key, until its session holds the key (true) or the
// wait ends (false) — etcd's lock service works this way (v3lock: the
// contender's request waits inside the server).
//
// Why: in Consul's recipe a contender learns that a lock is free from a
// blocking read, and only then asks for it, so each hand-over is three
// serial commits (the release, the next holder's acquire, its first write)
// and every release wakes every waiting contender. Here a release finds the
// queue's first live waiter and hands the key over in the same log entry: a
// Txn of [unlock by the holder, lock by the waiter], so a hand-over is the
// release's commit alone and nobody else is woken. The Txn is all or
// nothing and decided by the applier on every replica, as any lock write.
//
// This module is the queue itself (pure bookkeeping, no I/O): which waiter is
// first, which are gone (their client left, their wait ended), and the
// hand-over's claim on a waiter while its Txn is in flight.

/** One waiting acquire, as the lock writer keeps it. */
export interface LockWaiter {
  session: string;
  /** The acquire's body (standard base64) and flags: written when the key is handed over. */
  value: string;
  flags: number;
  /** Epoch ms after which it answers false. */
  deadline: number;
  signal?: AbortSignal;
  /** A release is handing the key over to this waiter (its Txn is in flight). */
  claimed: boolean;
  /** Its answer once decided by a hand-over (true: it holds the key). */
  granted?: boolean;
  /** Wakes the waiter's loop: it became first, was claimed or granted. */
  kick(): void;
}

export class LockWaits {
  private byKey = new Map<string, LockWaiter[]>();

  add(key: string, w: LockWaiter): void {
    let q = this.byKey.get(key);
    if (!q) this.byKey.set(key, (q = []));
    q.push(w);
  }

  /** Takes a waiter out (answered, or gone); the next one is kicked if it is now first. */
  remove(key: string, w: LockWaiter): void {
    const q = this.byKey.get(key);
    if (!q) return;
    const at = q.indexOf(w);
    if (at === -1) return;
    q.splice(at, 1);
    if (q.length === 0) this.byKey.delete(key);
    else if (at === 0) q[0]!.kick();
  }

  first(key: string): LockWaiter | undefined {
    return this.byKey.get(key)?.[0];
  }

  /** Whether anyone waits for `key` (the release path looks only then). */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * The first waiter a release may hand `key` over to: one whose client is
   * still there, whose wait has not ended and whose session `alive()` says
   * exists. Waiters that fail that are left for their own loops to answer
   * (false) and are skipped. `except`: the releasing session (its own
   * waiting acquire, if it has one, is not a hand-over).
   */
  handOverTarget(key: string, now: number, alive: (session: string) => boolean, except: string): LockWaiter | undefined {
    for (const w of this.byKey.get(key) ?? []) {
      if (w.claimed || w.granted !== undefined) return undefined; // a hand-over is already deciding this key
      if (w.signal?.aborted || w.deadline <= now || w.session === except || !alive(w.session)) continue;
      return w;
    }
    return undefined;
  }

  /** Waiting acquires across all keys (metrics, tests). */
  size(): number {
    let n = 0;
    for (const q of this.byKey.values()) n += q.length;
    return n;
  }
}
