// Recent metrics of each node on the leader, from heartbeat samples: raw
// samples are folded into fixed time buckets (leader.metrics_resolution,
// default 10 s) kept in a ring per node sized to leader.metrics_retention
// (default 1 h: 360 buckets). Memory per node is bounded whatever the
// heartbeat rate. Pure: callers pass the time (the leader's clock at
// receipt, so an agent's skewed clock cannot place samples in the future).
import type { LiveSample } from "../cluster/protocol.ts";

export interface HistoryOptions {
  retentionMs: number;
  resolutionMs: number;
}

/** One bucket: aggregates of the samples received in [time, time + resolution). */
export interface MetricsPoint {
  /** Bucket start, ms since the epoch. */
  time: number;
  samples: number;
  cpuPercentAvg: number;
  cpuPercentMax: number;
  memoryUsedBytesAvg: number;
  memoryUsedBytesMax: number;
  memoryAvailableBytesMin: number;
  load1Avg: number;
}

interface Bucket {
  start: number;
  n: number;
  cpuSum: number;
  cpuMax: number;
  memSum: number;
  memMax: number;
  availMin: number;
  loadSum: number;
}

export function bucketCount(opts: HistoryOptions): number {
  return Math.max(1, Math.ceil(opts.retentionMs / opts.resolutionMs));
}

/** One node's ring of buckets. Slot = (bucket start / resolution) mod capacity. */
export class SampleRing {
  /**
   * Grown as buckets arrive, slot 0 being the first bucket's: an array of
   * the ring's capacity (`new Array(360)`) cost ~4 KB per node from its
   * first sample (one written at slot 300 still ~2.7 KB: the engine fills up
   * to the index). Under node churn most rings belong to nodes that lived
   * minutes; a full ring costs what it did.
   */
  private slots: (Bucket | undefined)[] = [];
  /** Start of the first bucket ever added: slots count from it. */
  private origin = 0;
  private readonly capacity: number;
  private newest = -Infinity;

  constructor(private opts: HistoryOptions) {
    this.capacity = bucketCount(opts);
  }

  /** Start of the newest bucket (-Infinity while empty). */
  newestStart(): number {
    return this.newest;
  }

  add(timeMs: number, s: LiveSample): void {
    const res = this.opts.resolutionMs;
    const start = Math.floor(timeMs / res) * res;
    // Older than what the ring can hold next to the newest bucket: dropped.
    if (start <= this.newest - this.capacity * res) return;
    if (this.newest === -Infinity) this.origin = start;
    const slot = this.slotOf(start);
    let b = this.slots[slot];
    if (!b || b.start < start) {
      b = { start, n: 0, cpuSum: 0, cpuMax: -Infinity, memSum: 0, memMax: -Infinity, availMin: Infinity, loadSum: 0 };
      this.slots[slot] = b;
    } else if (b.start > start) return;
    b.n++;
    b.cpuSum += s.cpuPercent;
    b.cpuMax = Math.max(b.cpuMax, s.cpuPercent);
    b.memSum += s.memoryUsedBytes;
    b.memMax = Math.max(b.memMax, s.memoryUsedBytes);
    b.availMin = Math.min(b.availMin, s.memoryAvailableBytes);
    b.loadSum += s.load1;
    this.newest = Math.max(this.newest, start);
  }

  /** Buckets overlapping [sinceMs, nowMs], oldest first; nothing older than the retention. */
  points(sinceMs: number, nowMs: number): MetricsPoint[] {
    const res = this.opts.resolutionMs;
    if (this.newest === -Infinity) return [];
    // The ring's oldest slot, or the bucket holding now - retention if that is younger.
    const oldestKept = Math.max(this.newest - (this.capacity - 1) * res, Math.floor((nowMs - this.opts.retentionMs) / res) * res);
    const from = Math.max(oldestKept, Math.floor(sinceMs / res) * res);
    const out: MetricsPoint[] = [];
    for (let t = from; t <= this.newest; t += res) {
      const b = this.slots[this.slotOf(t)];
      if (b && b.start === t) out.push(view(b));
    }
    return out;
  }

  private slotOf(start: number): number {
    const n = this.capacity;
    return ((((start - this.origin) / this.opts.resolutionMs) % n) + n) % n;
  }
}

function view(b: Bucket): MetricsPoint {
  return {
    time: b.start,
    samples: b.n,
    cpuPercentAvg: round(b.cpuSum / b.n, 2),
    cpuPercentMax: round(b.cpuMax, 2),
    memoryUsedBytesAvg: Math.round(b.memSum / b.n),
    memoryUsedBytesMax: b.memMax,
    memoryAvailableBytesMin: b.availMin,
    load1Avg: round(b.loadSum / b.n, 3),
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Rings for every node the leader hears from. */
export class MetricsHistory {
  private rings = new Map<string, SampleRing>();

  constructor(readonly opts: HistoryOptions) {}

  add(nodeId: string, timeMs: number, sample: LiveSample): void {
    let r = this.rings.get(nodeId);
    if (!r) this.rings.set(nodeId, (r = new SampleRing(this.opts)));
    r.add(timeMs, sample);
  }

  points(nodeId: string, sinceMs: number, nowMs: number): MetricsPoint[] {
    return this.rings.get(nodeId)?.points(sinceMs, nowMs) ?? [];
  }

  /**
   * Drops the rings of nodes not in `ids` (deregistered), and of nodes whose
   * newest bucket is past the retention (silent for longer than the history
   * shows: down nodes stay registered, and under churn they pile up).
   */
  retain(ids: ReadonlySet<string>, nowMs: number): void {
    const cutoff = nowMs - this.opts.retentionMs - this.opts.resolutionMs;
    for (const [id, r] of this.rings) if (!ids.has(id) || r.newestStart() < cutoff) this.rings.delete(id);
  }

  size(): number {
    return this.rings.size;
  }
}
