// Token buckets keyed by a string (a token, a client address). Pure: the
// caller passes the time. A bucket holds up to `burst` requests and refills
// at `ratePerSec`; one request takes one. Memory is bounded: past `maxKeys`
// buckets, the least recently used ones are forgotten (a forgotten bucket
// comes back full, which only ever errs on the generous side).
export interface TakeResult {
  ok: boolean;
  /** When refused: how long until one request fits again, ms. */
  retryAfterMs: number;
}

export class TokenBuckets {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private ratePerSec: number,
    private burst: number,
    private maxKeys = 100_000,
  ) {
    if (!(ratePerSec > 0) || !(burst >= 1)) throw new Error("rate must be > 0 and burst >= 1");
  }

  take(key: string, nowMs: number): TakeResult {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order = least recently used first
      b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, nowMs - b.at) / 1000) * this.ratePerSec);
      b.at = nowMs;
    } else {
      b = { tokens: this.burst, at: nowMs };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, retryAfterMs: 0 };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / this.ratePerSec) * 1000) };
  }

  size(): number {
    return this.buckets.size;
  }
}
