// Metrics history: raw samples folded into fixed buckets in a bounded ring.
import { describe, expect, test } from "bun:test";
import { bucketCount, MetricsHistory, SampleRing } from "../../core/monitor/history.ts";
import type { LiveSample } from "../../core/cluster/protocol.ts";

const sample = (cpu: number, used = 100, avail = 900, load1 = 1): LiveSample => ({
  time: 0, cpuPercent: cpu, memoryUsedBytes: used, memoryAvailableBytes: avail, load1, load5: 0, load15: 0,
});

const T0 = 1_800_000_000_000; // a multiple of 10 s

describe("SampleRing", () => {
  test("samples in one bucket are averaged, with max and min kept", () => {
    const r = new SampleRing({ retentionMs: 60_000, resolutionMs: 10_000 });
    r.add(T0 + 1000, sample(10, 100, 900, 1));
    r.add(T0 + 5000, sample(30, 300, 700, 2));
    r.add(T0 + 9999, sample(20, 200, 800, 3));
    r.add(T0 + 10_000, sample(50));
    expect(r.points(0, T0 + 10_000)).toEqual([
      { time: T0, samples: 3, cpuPercentAvg: 20, cpuPercentMax: 30, memoryUsedBytesAvg: 200, memoryUsedBytesMax: 300, memoryAvailableBytesMin: 700, load1Avg: 2 },
      { time: T0 + 10_000, samples: 1, cpuPercentAvg: 50, cpuPercentMax: 50, memoryUsedBytesAvg: 100, memoryUsedBytesMax: 100, memoryAvailableBytesMin: 900, load1Avg: 1 },
    ]);
  });

  test("the ring keeps retention / resolution buckets and overwrites the oldest", () => {
    const opts = { retentionMs: 60_000, resolutionMs: 10_000 };
    expect(bucketCount(opts)).toBe(6);
    const r = new SampleRing(opts);
    // Two samples per bucket over 10 buckets: 20 raw samples, 6 buckets kept.
    for (let i = 0; i < 20; i++) r.add(T0 + i * 5000, sample(i));
    const now = T0 + 19 * 5000;
    const pts = r.points(0, now);
    expect(pts.map((p) => p.time)).toEqual([4, 5, 6, 7, 8, 9].map((k) => T0 + k * 10_000));
    expect(pts.map((p) => p.cpuPercentAvg)).toEqual([8.5, 10.5, 12.5, 14.5, 16.5, 18.5]);
  });

  test("since selects the buckets overlapping it; time passing expires old buckets", () => {
    const r = new SampleRing({ retentionMs: 60_000, resolutionMs: 10_000 });
    for (let i = 0; i < 6; i++) r.add(T0 + i * 10_000, sample(i));
    expect(r.points(T0 + 35_000, T0 + 55_000).map((p) => p.cpuPercentAvg)).toEqual([3, 4, 5]);
    // 30 s later with no new samples: only buckets overlapping the last minute remain ([T0+20s, +30s) holds T0+25s).
    expect(r.points(0, T0 + 85_000).map((p) => p.cpuPercentAvg)).toEqual([2, 3, 4, 5]);
    expect(r.points(0, T0 + 200_000)).toEqual([]);
  });

  test("a late sample joins its bucket if still kept, and is dropped if older than the ring", () => {
    const r = new SampleRing({ retentionMs: 30_000, resolutionMs: 10_000 });
    r.add(T0 + 50_000, sample(10));
    r.add(T0 + 35_000, sample(20)); // bucket T0+30s: kept (3 buckets: 30, 40, 50)
    r.add(T0 + 12_000, sample(99)); // older than the ring holds: dropped
    expect(r.points(0, T0 + 50_000).map((p) => [p.time - T0, p.cpuPercentAvg])).toEqual([[30_000, 20], [50_000, 10]]);
  });

  test("memory stays bounded whatever the sample rate", () => {
    const r = new SampleRing({ retentionMs: 3_600_000, resolutionMs: 10_000 });
    for (let i = 0; i < 100_000; i++) r.add(T0 + i * 100, sample(i % 100));
    expect(r.points(0, T0 + 100_000 * 100)).toHaveLength(360);
  });
});

describe("MetricsHistory", () => {
  test("one ring per node; retain drops the nodes that went away", () => {
    const h = new MetricsHistory({ retentionMs: 60_000, resolutionMs: 10_000 });
    h.add("a", T0, sample(1));
    h.add("b", T0, sample(2));
    expect(h.points("a", 0, T0)[0]!.cpuPercentAvg).toBe(1);
    expect(h.points("zzz", 0, T0)).toEqual([]);
    h.retain(new Set(["b"]), T0);
    expect(h.size()).toBe(1);
    expect(h.points("a", 0, T0)).toEqual([]);
  });

  test("a node silent for longer than the retention loses its ring (down nodes stay registered: churn must not pile rings up)", () => {
    const h = new MetricsHistory({ retentionMs: 60_000, resolutionMs: 10_000 });
    for (let i = 0; i < 1000; i++) h.add(`gone-${i}`, T0, sample(1));
    h.add("alive", T0 + 70_000, sample(2));
    const all = new Set([...Array.from({ length: 1000 }, (_, i) => `gone-${i}`), "alive"]);
    h.retain(all, T0 + 60_000); // still within the retention: kept
    expect(h.size()).toBe(1001);
    h.retain(all, T0 + 71_000);
    expect(h.size()).toBe(1);
    expect(h.points("alive", 0, T0 + 71_000)).toHaveLength(1);
  });
});

describe("ring memory", () => {
  test("a ring holding one bucket costs about one bucket, not the whole hour's capacity", async () => {
    const { heapStats } = await import("bun:jsc");
    const opts = { retentionMs: 3_600_000, resolutionMs: 10_000 }; // the defaults: 360 buckets
    const keep: SampleRing[] = [];
    Bun.gc(true);
    const before = heapStats().heapSize;
    for (let i = 0; i < 5000; i++) {
      const r = new SampleRing(opts);
      r.add(T0 + i * 10_000, sample(1));
      keep.push(r);
    }
    Bun.gc(true);
    const perRing = (heapStats().heapSize - before) / keep.length;
    // Preallocated, each ring took ~4 KB (360 slots) from its first sample on.
    expect(perRing).toBeLessThan(1500);
    expect(keep[4999]!.points(0, T0 + 5000 * 10_000)).toHaveLength(1);
  });
});
