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
//
// Or to a prefix of keys (`{ table: "kv", prefix: "locks/" }`): it wakes when
// a named key starts with the prefix. KV blocking reads wait this way (a
// single key's read too: a missing key answers with the index under it as a
// prefix, core/api/kv.ts). With 16 contenders waiting on a lock key, each
// write under the lock used to wake all 16, which re-read the key and waited
// again (bench/locks.ts).
export type Waiter = () => void;

/**
 * A table, one key of it (the waiter wakes only on changes that name the key),
 * or the keys under a prefix (it wakes on changes that name a key starting with it).
 */
export type WatchTopic = string | { table: string; key: string } | { table: string; prefix: string };

/** Per table, the keys a change touched; a table left out wakes every keyed waiter of it. */
export type ChangedKeys = ReadonlyMap<string, Iterable<string>>;

export class IndexWatch {
  private waiters = new Map<string, Set<Waiter>>();
  /** table -> key -> waiters narrowed to that key. */
  private keyed = new Map<string, Map<string, Set<Waiter>>>();
  /** table -> prefix -> waiters narrowed to keys under that prefix. */
  private prefixed = new Map<string, Map<string, Set<Waiter>>>();

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
      const byPrefix = this.prefixed.get(t);
      if (!byKey && !byPrefix) continue;
      const keys = changedKeys?.get(t);
      if (keys === undefined) {
        // A change that names no keys (a restore): every narrowed waiter of the table.
        this.keyed.delete(t);
        this.prefixed.delete(t);
        if (byKey) for (const ws of byKey.values()) wake.push(ws);
        if (byPrefix) for (const ws of byPrefix.values()) wake.push(ws);
        continue;
      }
      for (const k of keys) {
        const ws = byKey?.get(k);
        if (ws) {
          byKey!.delete(k);
          wake.push(ws);
        }
        if (byPrefix && byPrefix.size > 0) takePrefixesOf(k, byPrefix, wake);
      }
      if (byKey?.size === 0) this.keyed.delete(t);
      if (byPrefix?.size === 0) this.prefixed.delete(t);
    }
    for (const ws of wake) for (const w of ws) w();
  }

  /** Whether some waiter is narrowed to keys of `table` (else a notifier need not work out its keys). */
  hasKeyedWaiters(table: string): boolean {
    return (this.keyed.get(table)?.size ?? 0) > 0 || (this.prefixed.get(table)?.size ?? 0) > 0;
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
    const [maps, name] = "key" in topic ? [this.keyed, topic.key] : [this.prefixed, topic.prefix];
    const byName = maps.get(topic.table)!;
    byName.delete(name);
    if (byName.size === 0) maps.delete(topic.table);
  }

  private setOf(topic: WatchTopic, create: boolean): Set<Waiter> | undefined {
    if (typeof topic === "string") {
      let set = this.waiters.get(topic);
      if (!set && create) this.waiters.set(topic, (set = new Set()));
      return set;
    }
    const [maps, name] = "key" in topic ? [this.keyed, topic.key] : [this.prefixed, topic.prefix];
    let byName = maps.get(topic.table);
    if (!byName) {
      if (!create) return undefined;
      maps.set(topic.table, (byName = new Map()));
    }
    let set = byName.get(name);
    if (!set && create) byName.set(name, (set = new Set()));
    return set;
  }

  /** Open waiters (metrics, tests). */
  size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    for (const maps of [this.keyed, this.prefixed]) for (const byName of maps.values()) for (const s of byName.values()) n += s.size;
    return n;
  }
}

/**
 * Moves the waiters of every prefix of `key` from `byPrefix` to `wake`. Walks
 * whichever is shorter: the waited prefixes (each tested against the key) or
 * the key's own prefixes (each looked up), so neither many prefixes nor long
 * keys make it slow.
 */
function takePrefixesOf(key: string, byPrefix: Map<string, Set<Waiter>>, wake: Set<Waiter>[]): void {
  if (byPrefix.size <= key.length + 1) {
    for (const [p, ws] of byPrefix) {
      if (!key.startsWith(p)) continue;
      byPrefix.delete(p);
      wake.push(ws);
    }
    return;
  }
  for (let n = 0; n <= key.length; n++) {
    const p = key.slice(0, n);
    const ws = byPrefix.get(p);
    if (!ws) continue;
    byPrefix.delete(p);
    wake.push(ws);
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
