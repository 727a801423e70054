// Retry budget (Finagle's RetryBudget, Envoy's retry_budget): retries may add
// at most `percent` of the requests seen in a sliding window, plus a floor
// of `minPerSecond` retries per second of window so a quiet service can still
// retry. When every instance fails, this turns a retry storm (each call
// tried max_retries + 1 times) into a bounded extra load.
//
// Counts live in one-second buckets of a ring; the clock is injected.

export interface BudgetConfig {
  percent: number;
  minPerSecond: number;
  windowMs: number;
}

export class RetryBudget {
  private readonly seconds: number;
  private readonly stamp: Float64Array;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  /** Retries refused since creation (metrics, tests). */
  exhausted = 0;

  constructor(
    private readonly cfg: BudgetConfig,
    private readonly now: () => number,
  ) {
    this.seconds = Math.max(1, Math.round(cfg.windowMs / 1000));
    this.stamp = new Float64Array(this.seconds).fill(-1);
    this.requests = new Float64Array(this.seconds);
    this.retries = new Float64Array(this.seconds);
  }

  /** Every call (not every attempt) deposits once. `now`: the caller's reading of this budget's clock, when it has one. */
  recordRequest(now = this.now()): void {
    this.requests[this.bucket(now)]!++;
  }

  /** Takes one retry from the budget, or refuses (and counts the refusal). */
  tryRetry(): boolean {
    const at = this.bucket();
    const { requests, retries } = this.totals();
    if (retries + 1 > this.allowance(requests)) {
      this.exhausted++;
      return false;
    }
    this.retries[at]!++;
    return true;
  }

  /** Requests and retries inside the window. */
  totals(): { requests: number; retries: number } {
    const sec = Math.floor(this.now() / 1000);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < this.seconds; i++) {
      if (this.stamp[i]! > sec - this.seconds) {
        requests += this.requests[i]!;
        retries += this.retries[i]!;
      }
    }
    return { requests, retries };
  }

  allowance(requests: number): number {
    return (requests * this.cfg.percent) / 100 + this.cfg.minPerSecond * this.seconds;
  }

  private bucket(now = this.now()): number {
    const sec = Math.floor(now / 1000);
    const at = sec % this.seconds;
    if (this.stamp[at] !== sec) {
      this.stamp[at] = sec;
      this.requests[at] = 0;
      this.retries[at] = 0;
    }
    return at;
  }
}
