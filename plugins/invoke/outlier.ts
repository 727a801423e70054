// Per-instance circuit breaker (Envoy's outlier detection, consecutive
// failures flavour) as a pure state machine over a plain record; the clock
// is passed in.
//
//   closed --N consecutive failures, and the ejection cap allows--> open
//   open --ejection time over, picked for a request--> half-open (one probe)
//   half-open --probe succeeds--> closed     --probe fails--> open (longer)
//
// The n-th ejection lasts min(base * n, max). The count decays: an instance
// that stays closed for max_ejection_time starts again from the base time.
// The cap (max ejection percent of the service's instances, rounded down)
// is the caller's to compute, since it depends on the other instances.

export type BreakerPhase = "closed" | "open" | "half-open";

export interface BreakerState {
  phase: BreakerPhase;
  /** Consecutive failures while closed. */
  failures: number;
  /** Ejections so far (decays after a long healthy stretch). */
  ejections: number;
  /** open: when the ejection ends (ms). */
  until: number;
  /** half-open: the probe request is in flight. */
  probing: boolean;
  /** When it last became closed (ms), for the decay. */
  closedAt: number;
}

export interface OutlierConfig {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
}

export function newBreaker(now: number): BreakerState {
  return { phase: "closed", failures: 0, ejections: 0, until: 0, probing: false, closedAt: now };
}

/** May this instance take a request now? An open one whose time is up may take the single probe. */
export function available(b: BreakerState, now: number): boolean {
  if (b.phase === "closed") return true;
  if (b.phase === "open") return now >= b.until;
  return !b.probing;
}

/** The balancer chose it: an expired open breaker becomes half-open and this request is its probe. */
export function picked(b: BreakerState, now: number): void {
  if (b.phase === "open" && now >= b.until) b.phase = "half-open";
  if (b.phase === "half-open") b.probing = true;
}

/** Counts toward the ejection cap (open, or half-open awaiting its verdict). */
export function isEjected(b: BreakerState): boolean {
  return b.phase !== "closed";
}

export function succeeded(b: BreakerState, now: number | (() => number), cfg: OutlierConfig): void {
  // `now` may be the clock itself: read only when there is something to time
  // (a healthy instance's success, every answer's case, needs no clock read).
  if (b.phase !== "closed") {
    b.phase = "closed";
    b.probing = false;
    b.closedAt = typeof now === "number" ? now : now();
  } else if (b.ejections > 0 && (typeof now === "number" ? now : now()) - b.closedAt >= cfg.maxEjectionMs) {
    b.ejections = 0;
  }
  b.failures = 0;
}

/**
 * Records a failure. `mayEject` is asked only when the threshold is reached
 * (closed) — a failed probe re-opens without asking, as the instance already
 * counts as ejected. Returns true when this failure ejected the instance.
 */
export function failed(b: BreakerState, now: number, cfg: OutlierConfig, mayEject: () => boolean): boolean {
  if (b.phase === "half-open") {
    eject(b, now, cfg);
    return true;
  }
  if (b.phase === "open") return false; // a request picked before the ejection, answering late
  b.failures++;
  if (b.failures < cfg.consecutiveFailures || !mayEject()) return false;
  eject(b, now, cfg);
  return true;
}

/** The request ended with no verdict on the instance (the client went away): free the probe slot. */
export function abandoned(b: BreakerState): void {
  b.probing = false;
}

function eject(b: BreakerState, now: number, cfg: OutlierConfig): void {
  b.ejections++;
  b.phase = "open";
  b.probing = false;
  b.failures = 0;
  b.until = now + ejectionMs(b.ejections, cfg);
}

export function ejectionMs(ejections: number, cfg: OutlierConfig): number {
  return Math.min(cfg.baseEjectionMs * Math.max(1, ejections), cfg.maxEjectionMs);
}

/** How many of `total` instances may be ejected at once: the percentage, rounded down. */
export function ejectionCap(total: number, maxPercent: number): number {
  return Math.floor((total * maxPercent) / 100);
}
