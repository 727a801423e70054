// Blocking-query support: wait until a table's index moves past a value.
// The FSM calls notify(tables, index) after each applied entry; waiters on
// those tables wake and re-evaluate their own query (a KV change under
// another prefix wakes a prefix watcher, which then finds its result index
// unchanged and waits again, so clients never see a spurious index bump).
//
// A waiter may narrow a table to one key (`{ table: "allocations", key: nodeId }`):
// it wakes only when the notifier names that key among the table's changed
// keys, or when it names none (a change it cannot place, a restore). Every
// agent blocks on its own node's allocations; without keys, each allocation
// write woke all of them, and each re-ran its query to find nothing new:
// O(agents) reads per write, the placement scale run's largest cost.
export type Waiter = () => void;

/** A table, or one key of it (the waiter wakes only on changes that name the key). */
export type WatchTopic = string | { table: string; key: string };

/** Per table, the keys a change touched; a table left out wakes every keyed waiter of it. */
export type ChangedKeys = ReadonlyMap<string, Iterable<string>>;

export class IndexWatch {
  private waiters = new Map<string, Set<Waiter>>();
  /** table -> key -> waiters narrowed to that key. */
  private keyed = new Map<string, Map<string, Set<Waiter>>>();

  notify(tables: readonly string[], changedKeys?: ChangedKeys): void {
    // Collected first, called after: a woken waiter unregisters itself from the maps walked here.
    // The sets themselves, not copies of their members: a catalog table can hold 20,000 waiters.
    const wake: Set<Waiter>[] = [];
    for (const t of tables) {
      const set = this.waiters.get(t);
      if (set) {
        this.waiters.delete(t);
        wake.push(set);
      }
      const byKey = this.keyed.get(t);
      if (!byKey) continue;
      const keys = changedKeys?.get(t);
      if (keys === undefined) {
        this.keyed.delete(t);
        for (const ws of byKey.values()) wake.push(ws);
        continue;
      }
      for (const k of keys) {
        const ws = byKey.get(k);
        if (!ws) continue;
        byKey.delete(k);
        wake.push(ws);
      }
      if (byKey.size === 0) this.keyed.delete(t);
    }
    for (const ws of wake) for (const w of ws) w();
  }

  /** Whether some waiter is narrowed to keys of `table` (else a notifier need not work out its keys). */
  hasKeyedWaiters(table: string): boolean {
    return (this.keyed.get(table)?.size ?? 0) > 0;
  }

  /**
   * Resolves on the next change to any of `tables`, at `deadline` (ms epoch),
   * or when `signal` aborts; whichever comes first. Returns true on a change.
   */
  next(topics: readonly WatchTopic[], deadline: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (changed: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const t of topics) this.remove(t, waiter);
        signal?.removeEventListener("abort", onAbort);
        resolve(changed);
      };
      const waiter = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
      signal?.addEventListener("abort", onAbort);
      for (const t of topics) this.setOf(t, true)!.add(waiter);
    });
  }

  /** Drops a waiter, and its key's entry once empty (keys come and go with nodes: no leak under churn). */
  private remove(topic: WatchTopic, waiter: Waiter): void {
    const set = this.setOf(topic, false);
    if (!set?.delete(waiter) || set.size > 0 || typeof topic === "string") return;
    const byKey = this.keyed.get(topic.table)!;
    byKey.delete(topic.key);
    if (byKey.size === 0) this.keyed.delete(topic.table);
  }

  private setOf(topic: WatchTopic, create: boolean): Set<Waiter> | undefined {
    if (typeof topic === "string") {
      let set = this.waiters.get(topic);
      if (!set && create) this.waiters.set(topic, (set = new Set()));
      return set;
    }
    let byKey = this.keyed.get(topic.table);
    if (!byKey) {
      if (!create) return undefined;
      this.keyed.set(topic.table, (byKey = new Map()));
    }
    let set = byKey.get(topic.key);
    if (!set && create) byKey.set(topic.key, (set = new Set()));
    return set;
  }

  /** Open waiters (metrics, tests). */
  size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    for (const byKey of this.keyed.values()) for (const s of byKey.values()) n += s.size;
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
  opts: { tables: readonly WatchTopic[]; minIndex: number; waitMs: number; signal?: AbortSignal },
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
