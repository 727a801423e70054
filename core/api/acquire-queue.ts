// The active leader's acquires of one key, one at a time. When a lock is
// released, every waiting contender (Consul's recipe wakes them all with
// its blocking read) sends ?acquire= at once; each would be a replicated,
// fsynced log entry that all but one lose. Here the first is proposed and
// the others wait for it, then look again: the key is now held, so they
// are answered false without a log entry (`refused`). A false answer is
// always safe (it takes nothing); the applier still decides every acquire
// that is proposed, so this only saves work, it decides nothing.

export class AcquireQueue {
  private inflight = new Map<string, Promise<unknown>>();

  /** `refused()`: the state already says no. `propose()`: the real attempt. false: refused without proposing. */
  async run<T>(key: string, refused: () => boolean, propose: () => Promise<T>): Promise<T | false> {
    for (;;) {
      if (refused()) return false;
      const pending = this.inflight.get(key);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    const p = propose();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }
}
