// Blocking-query support: wait until a table's index moves past a value.
// The FSM calls notify(tables, index) after each applied entry; waiters on
// those tables wake and re-evaluate their own query (a KV change under
// another prefix wakes a prefix watcher, which then finds its result index
// unchanged and waits again, so clients never see a spurious index bump).
export type Waiter = () => void;

export class IndexWatch {
  private waiters = new Map<string, Set<Waiter>>();

  notify(tables: readonly string[]): void {
    for (const t of tables) {
      const set = this.waiters.get(t);
      if (!set) continue;
      this.waiters.delete(t);
      for (const w of set) w();
    }
  }

  /**
   * Resolves on the next change to any of `tables`, at `deadline` (ms epoch),
   * or when `signal` aborts; whichever comes first. Returns true on a change.
   */
  next(tables: readonly string[], deadline: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (changed: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const t of tables) this.waiters.get(t)?.delete(waiter);
        signal?.removeEventListener("abort", onAbort);
        resolve(changed);
      };
      const waiter = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      signal?.addEventListener("abort", onAbort);
      for (const t of tables) {
        let set = this.waiters.get(t);
        if (!set) this.waiters.set(t, (set = new Set()));
        set.add(waiter);
      }
    });
  }

  /** Open waiters (metrics, tests). */
  size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}

/**
 * Runs a blocking query: evaluates `read` at once; if the caller's `minIndex`
 * is not yet passed, waits for changes to `tables` and re-evaluates until the
 * result's index exceeds minIndex or the deadline passes.
 */
export async function blockingQuery<T>(
  watch: IndexWatch,
  opts: { tables: readonly string[]; minIndex: number; waitMs: number; signal?: AbortSignal },
  read: () => { index: number; value: T },
): Promise<{ index: number; value: T }> {
  let result = read();
  if (opts.minIndex <= 0 || result.index > opts.minIndex) return result;
  const deadline = Date.now() + opts.waitMs;
  while (Date.now() < deadline && !opts.signal?.aborted) {
    const changed = await watch.next(opts.tables, deadline, opts.signal);
    if (!changed) break;
    result = read();
    if (result.index > opts.minIndex) return result;
  }
  return read();
}
