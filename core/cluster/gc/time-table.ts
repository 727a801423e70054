// Which log index was current when: Nomad's TimeTable. Garbage collection
// thresholds are durations ("a job dead for 4h"), but rows carry indexes, not
// times (a job row has no time of its last change). The leader witnesses the
// applied index now and then; "changed more than T ago" is then "modify
// index at or below the newest index witnessed at least T ago". Indexes from
// before this process started count as changed at its start: conservative
// (a new leader keeps rows a little longer, never collects one too early).
// Pure: the caller passes the times.

/** Most samples kept; past it every other one is dropped (uniformly, the newest kept), halving the resolution. */
const MAX_SAMPLES = 4096;

export class TimeTable {
  private samples: { index: number; at: number }[] = [];

  /** `horizonMs`: the longest threshold asked about; older samples are dropped (one at or before the horizon is kept). */
  constructor(private readonly horizonMs = Infinity) {}

  /** Records that `index` was applied by `at` (ms). Ignored unless both move forward. */
  witness(index: number, at: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && (index <= last.index || at < last.at)) return;
    this.samples.push({ index, at });
    // The answer for the horizon is the newest sample at or before it: keep that one, drop what is older.
    let drop = 0;
    while (drop + 1 < this.samples.length && this.samples[drop + 1]!.at <= at - this.horizonMs) drop++;
    if (drop) this.samples.splice(0, drop);
    if (this.samples.length > MAX_SAMPLES) {
      // Dropping a sample only makes answers older (a row kept longer), never newer: safe for collection.
      const n = this.samples.length;
      this.samples = this.samples.filter((_, i) => i % 2 === 1 || i === n - 1);
    }
  }

  /** The newest index witnessed at or before `at`; 0 when none was (nothing is that old, as far as this table knows). */
  indexAt(at: number): number {
    let lo = 0;
    let hi = this.samples.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.samples[mid]!.at <= at) { found = this.samples[mid]!.index; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }
}
