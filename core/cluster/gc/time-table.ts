// Which log index was current when: Nomad's TimeTable. Garbage collection
// thresholds are durations ("a job dead for 4h"), but rows carry indexes, not
// times (a job row has no time of its last change). The leader witnesses the
// applied index now and then; "changed more than T ago" is then "modify
// index at or below the newest index witnessed at least T ago". Indexes from
// before this process started count as changed at its start: conservative
// (a new leader keeps rows a little longer, never collects one too early).
// Pure: the caller passes the times.

/** Most samples kept; past it the older half is thinned (every other dropped), so the table covers long thresholds coarsely. */
const MAX_SAMPLES = 4096;

export class TimeTable {
  private samples: { index: number; at: number }[] = [];

  /** Records that `index` was applied by `at` (ms). Ignored unless both move forward. */
  witness(index: number, at: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && (index <= last.index || at < last.at)) return;
    this.samples.push({ index, at });
    if (this.samples.length > MAX_SAMPLES) {
      const half = this.samples.length >> 1;
      this.samples = [...this.samples.slice(0, half).filter((_, i) => i % 2 === 0), ...this.samples.slice(half)];
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
