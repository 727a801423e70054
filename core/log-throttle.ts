// Says a repeated event at most once per interval, with how many happened
// since the last line: a join burst's refusals, a busy leader's late
// heartbeats. One line per interval, not one per event.
export class LogThrottle {
  private count = 0;
  private saidAt = -Infinity;

  constructor(private readonly everyMs: number) {}

  /** Counts one event at `now`; when a line is due, how many events it covers (this one included), else undefined. */
  note(now: number): number | undefined {
    this.count++;
    if (now - this.saidAt < this.everyMs) return undefined;
    this.saidAt = now;
    const n = this.count;
    this.count = 0;
    return n;
  }
}
