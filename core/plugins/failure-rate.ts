// When a plugin's request failures mean the plugin is broken. One request that
// throws is one bad request (an input the plugin did not expect): it gets a
// 500 and the plugin keeps serving. Many within a short time mean the plugin
// itself is broken: it is disabled (state "failed") so it stops taking
// requests and the operator sees it in `corral plugins list` (docs/plugins.md,
// "Failures"). Pure: the caller supplies the clock.

/** Unexpected handler errors within the window that disable a plugin. */
export const REQUEST_FAILURE_LIMIT = 10;
export const REQUEST_FAILURE_WINDOW_MS = 60_000;

export class FailureRate {
  /** Times of the latest failures, oldest first; never more than `limit`. */
  private times: number[] = [];

  constructor(
    readonly limit = REQUEST_FAILURE_LIMIT,
    readonly windowMs = REQUEST_FAILURE_WINDOW_MS,
  ) {}

  /** Records a failure at `now`; true when `limit` failures fall within the window ending now. */
  record(now: number): boolean {
    this.times.push(now);
    if (this.times.length > this.limit) this.times.shift();
    return this.times.length >= this.limit && now - this.times[0]! <= this.windowMs;
  }

  /** Failures within the window ending at `now`. */
  count(now: number): number {
    return this.times.filter((t) => now - t <= this.windowMs).length;
  }
}
