// When each check runs next, pure: a binary min-heap of (time, check) with
// lazy removal, driven by ONE timer set for the earliest entry (see
// runner.ts). 10,000 checks cost one timer, not 10,000 intervals
// (bench/check-timers.ts compares the two), and the driver takes every entry
// due within a small window per wake-up, so 1,000 checks a second wake the
// process far fewer than 1,000 times.
//
// Start times are spread: a new check first runs at a uniformly random
// point of its first interval (Consul's RandomStagger), so checks registered
// together do not fire together, then every interval after its previous start.

interface Entry {
  at: number;
  id: string;
  /** Matches gens.get(id) while the entry is live. */
  gen: number;
}

export class DueQueue {
  private heap: Entry[] = [];
  private gens = new Map<string, number>();
  private nextGen = 1;

  /** Live entries. */
  get size(): number {
    return this.gens.size;
  }

  /** (Re)schedules `id` at `at`, replacing any earlier schedule of it. */
  schedule(id: string, at: number): void {
    const gen = this.nextGen++;
    this.gens.set(id, gen);
    this.push({ at, id, gen });
    // Stale entries of cancelled or rescheduled checks are dropped when they surface; compact if they pile up.
    if (this.heap.length > 2 * this.gens.size + 64) this.compact();
  }

  cancel(id: string): void {
    this.gens.delete(id);
  }

  has(id: string): boolean {
    return this.gens.has(id);
  }

  /** Time of the earliest live entry. */
  next(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every live entry due at or before `until`, earliest first. */
  popDue(until: number): string[] {
    const out: string[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > until) return out;
      this.pop();
      this.gens.delete(top.id);
      out.push(top.id);
    }
  }

  clear(): void {
    this.heap = [];
    this.gens.clear();
  }

  private live(e: Entry): boolean {
    return this.gens.get(e.id) === e.gen;
  }

  private dropStale(): void {
    while (this.heap.length > 0 && !this.live(this.heap[0]!)) this.pop();
  }

  private compact(): void {
    const keep = this.heap.filter((e) => this.live(e));
    this.heap = [];
    for (const e of keep) this.push(e);
  }

  private static less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.gen < b.gen);
  }

  /** Sift up with a hole (no swaps). */
  private push(e: Entry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!DueQueue.less(e, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  /** Removes the top; sift down with a hole. */
  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && DueQueue.less(h[r]!, h[l]!) ? r : l;
      if (!DueQueue.less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}

/** First run of a new check: uniformly random within its first interval. */
export function firstRunAt(now: number, intervalMs: number, random: () => number): number {
  return now + Math.floor(random() * intervalMs);
}

/**
 * The run after one that was due at `due` and finished at `now`: one interval
 * after it was due (a steady rate keeps the spread), but never in the past —
 * a check whose probe took longer than its interval runs again right away,
 * not in a burst of catch-up runs.
 */
export function nextRunAt(due: number, now: number, intervalMs: number): number {
  return Math.max(due + intervalMs, now);
}
