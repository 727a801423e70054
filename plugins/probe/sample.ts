// Live samples: CPU busy %, memory used/available, load averages.
//
// Sampling runs every second on every node, so each source must be cheap and
// must not spawn processes (measured in docs/probe.md):
//   - CPU %: our own delta of the aggregate "cpu" line of /proc/stat (one
//     async file read). NOT si.currentLoad(): on Linux it runs
//     `execSync("cat /proc/stat | grep cpu")` (a shell, cat and grep, ~5 ms
//     blocking the event loop) whenever its 200 ms cache has expired, and it
//     keeps its previous reading in module globals shared by every caller.
//   - memory: si.mem(), one async read of /proc/meminfo.
//   - load: os.loadavg(), one sysinfo(2) call.
// Off Linux the CPU delta falls back to os.cpus() times.
import os from "node:os";
import { readFile } from "node:fs/promises";
import { readMemory, type MemoryReading } from "./memory.ts";

export interface Sample {
  /** When the sample was taken, ms since the epoch. */
  time: number;
  /** Busy share of all logical CPUs since the previous sample, 0..100. */
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryAvailableBytes: number;
  load1: number;
  load5: number;
  load15: number;
}

/** Cumulative CPU time counters (any unit, only deltas matter). */
export interface CpuTimes {
  busy: number;
  total: number;
}

export interface SamplerSources {
  cpuTimes(): Promise<CpuTimes>;
  memory(): Promise<MemoryReading>;
  loadavg(): number[];
  now(): number;
}

export interface Sampler {
  /** Takes a sample. Concurrent calls share the one in flight. */
  sample(): Promise<Sample>;
  /** The most recent sample, if any. */
  latest(): Sample | undefined;
}

/**
 * /proc/stat "cpu" line: user nice system idle iowait irq softirq steal guest
 * guest_nice (USER_HZ ticks). guest and guest_nice are already counted in
 * user and nice, so they are left out of the total. iowait is idle time.
 */
export function parseProcStatCpu(text: string): CpuTimes | undefined {
  const eol = text.indexOf("\n");
  const line = eol === -1 ? text : text.slice(0, eol);
  if (!line.startsWith("cpu ")) return undefined;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

async function procStatCpuTimes(): Promise<CpuTimes> {
  const parsed = parseProcStatCpu(await readFile("/proc/stat", "utf8"));
  return parsed ?? osCpuTimes();
}

function osCpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

export const realSamplerSources: SamplerSources = {
  cpuTimes: process.platform === "linux" ? procStatCpuTimes : async () => osCpuTimes(),
  memory: readMemory,
  loadavg: () => os.loadavg(),
  now: () => Date.now(),
};

/** Pure: busy % between two readings; 0 when no time passed (same tick). */
export function cpuPercentBetween(prev: CpuTimes, next: CpuTimes): number {
  const total = next.total - prev.total;
  if (!(total > 0)) return 0;
  const pct = ((next.busy - prev.busy) / total) * 100;
  return Math.min(100, Math.max(0, pct));
}

/**
 * A sampler keeps its own previous CPU reading, so two samplers never disturb
 * each other. The first sample compares with the counters since boot, so its
 * cpuPercent is the average since boot; every later one covers the time since
 * the sample before it.
 */
export function createSampler(sources: Partial<SamplerSources> = {}): Sampler {
  const src: SamplerSources = { ...realSamplerSources, ...sources };
  let prevCpu: CpuTimes = { busy: 0, total: 0 };
  let last: Sample | undefined;
  let inFlight: Promise<Sample> | undefined;

  async function take(): Promise<Sample> {
    const [cpu, mem] = await Promise.all([src.cpuTimes(), src.memory()]);
    const [load1 = 0, load5 = 0, load15 = 0] = src.loadavg();
    // Same tick (two samples within 1/USER_HZ): keep the previous figure.
    const cpuPercent =
      cpu.total > prevCpu.total || !last ? cpuPercentBetween(prevCpu, cpu) : last.cpuPercent;
    prevCpu = cpu;
    last = {
      time: src.now(),
      cpuPercent: round2(cpuPercent),
      memoryUsedBytes: mem.usedBytes,
      memoryAvailableBytes: mem.availableBytes,
      load1: round2(load1),
      load5: round2(load5),
      load15: round2(load15),
    };
    return last;
  }

  return {
    sample() {
      inFlight ??= take().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    latest: () => last,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
