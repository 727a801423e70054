// Reads of one row by key, remembered for the applied index they were read
// at. A lock's release wakes every contender's blocking read of the lock key
// and brings each one's acquire (bench/locks.ts: ~30 reads of the same key,
// and ~15 of its lock-delay, per hand-over), all at one index. Entries are
// applied and published in one synchronous step (core/raft/driver.ts
// process), so between two turns of the event loop the rows are exactly what
// the applied index says; any entry, a restore included, moves the index and
// drops the memory. Values must be treated as read-only or copied by the caller.
export class IndexMemo<V> {
  private rows = new Map<string, V>();
  private at = -1;

  constructor(
    private readonly appliedIndex: () => number,
    private readonly read: (key: string) => V,
    /** Keys remembered at most per index (the rest are read each time). */
    private readonly max = 10_000,
  ) {}

  get(key: string): V {
    const index = this.appliedIndex();
    if (index !== this.at) {
      this.rows.clear();
      this.at = index;
    }
    if (this.rows.has(key)) return this.rows.get(key)!;
    const v = this.read(key);
    if (this.rows.size < this.max) this.rows.set(key, v);
    return v;
  }
}
