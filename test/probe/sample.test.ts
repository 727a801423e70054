import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  cpuPercentBetween,
  createSampler,
  parseProcStatCpu,
  type CpuTimes,
  type SamplerSources,
} from "../../plugins/probe/sample.ts";

describe("parseProcStatCpu", () => {
  test("busy excludes idle and iowait; guest is not counted twice", () => {
    const t = parseProcStatCpu("cpu  100 10 50 800 40 5 5 10 7 3\ncpu0 1 2 3 4\n");
    expect(t).toEqual({ busy: 100 + 10 + 50 + 5 + 5 + 10, total: 100 + 10 + 50 + 800 + 40 + 5 + 5 + 10 });
  });
  test("old kernels with four fields", () => {
    expect(parseProcStatCpu("cpu 1 2 3 4")).toEqual({ busy: 6, total: 10 });
  });
  test("not a /proc/stat", () => {
    expect(parseProcStatCpu("intr 1 2 3\n")).toBeUndefined();
    expect(parseProcStatCpu("cpu x y z w\n")).toBeUndefined();
  });
});

describe("cpuPercentBetween", () => {
  test("share of busy ticks, clamped to 0..100", () => {
    expect(cpuPercentBetween({ busy: 0, total: 0 }, { busy: 25, total: 100 })).toBe(25);
    expect(cpuPercentBetween({ busy: 10, total: 100 }, { busy: 10, total: 100 })).toBe(0);
    expect(cpuPercentBetween({ busy: 0, total: 0 }, { busy: 200, total: 100 })).toBe(100);
    expect(cpuPercentBetween({ busy: 50, total: 100 }, { busy: 40, total: 200 })).toBe(0);
  });
});

function fakeSources(times: CpuTimes[]): SamplerSources {
  let i = 0;
  return {
    cpuTimes: async () => times[Math.min(i++, times.length - 1)]!,
    memory: async () => ({ totalBytes: 1000, availableBytes: 600, usedBytes: 400 }),
    loadavg: () => [0.5, 0.25, 0.125],
    now: () => 1_700_000_000_000,
  };
}

describe("createSampler (fake sources)", () => {
  test("each sample covers the time since the previous one", async () => {
    const s = createSampler(
      fakeSources([
        { busy: 50, total: 100 },
        { busy: 60, total: 200 },
        { busy: 160, total: 300 },
      ]),
    );
    expect((await s.sample()).cpuPercent).toBe(50); // since boot
    expect((await s.sample()).cpuPercent).toBe(10);
    const third = await s.sample();
    expect(third).toEqual({
      time: 1_700_000_000_000,
      cpuPercent: 100,
      memoryUsedBytes: 400,
      memoryAvailableBytes: 600,
      load1: 0.5,
      load5: 0.25,
      load15: 0.13,
    });
    expect(s.latest()).toBe(third);
  });

  test("no tick between two samples keeps the previous figure", async () => {
    const s = createSampler(fakeSources([{ busy: 30, total: 100 }, { busy: 30, total: 100 }]));
    await s.sample();
    expect((await s.sample()).cpuPercent).toBe(30);
  });

  test("concurrent calls share one reading", async () => {
    let reads = 0;
    const src = fakeSources([{ busy: 1, total: 2 }]);
    const s = createSampler({ ...src, cpuTimes: async () => (reads++, src.cpuTimes()) });
    const [a, b] = await Promise.all([s.sample(), s.sample()]);
    expect(a).toBe(b);
    expect(reads).toBe(1);
    await s.sample();
    expect(reads).toBe(2);
  });

  test("two samplers do not share state", async () => {
    const a = createSampler(fakeSources([{ busy: 10, total: 100 }]));
    const b = createSampler(fakeSources([{ busy: 90, total: 100 }]));
    expect((await a.sample()).cpuPercent).toBe(10);
    expect((await b.sample()).cpuPercent).toBe(90);
  });
});

describe("createSampler (this host)", () => {
  test("fields are sane", async () => {
    const s = createSampler();
    await s.sample();
    await Bun.sleep(50);
    const x = await s.sample();
    expect(Math.abs(x.time - Date.now())).toBeLessThan(5_000);
    expect(x.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(x.cpuPercent).toBeLessThanOrEqual(100);
    for (const l of [x.load1, x.load5, x.load15]) expect(l).toBeGreaterThanOrEqual(0);
    expect(x.memoryAvailableBytes).toBeGreaterThan(0);
    expect(x.memoryUsedBytes).toBeGreaterThan(0);
    if (process.platform === "linux") {
      const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
      const sum = x.memoryUsedBytes + x.memoryAvailableBytes;
      expect(Math.abs(sum - memTotal) / memTotal).toBeLessThan(0.01);
    }
  });

  // Counting needs child_process patched before systeminformation loads (it
  // keeps its own references), so it runs in a fresh process. The fixture also
  // calls si.currentLoad() as a positive control: if that shows no spawn, the
  // counter is blind and the zero means nothing.
  test("sampling spawns no process (si.currentLoad would)", () => {
    const fixture = path.join(import.meta.dir, "fixtures", "count-spawns.ts");
    const r = Bun.spawnSync([process.execPath, fixture], { stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
    expect(out.samples).toBe(3);
    expect(out.sampler_spawns).toBe(0);
    expect(out.control_spawns).toBeGreaterThan(0);
  }, 20_000);
});
