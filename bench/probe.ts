// Cost of live sampling under Bun: the probe sampler once per interval for N
// seconds, against an idle baseline of the same length in the same process
// (same timer wake-ups, empty callback). The figure is the difference (own CPU
// plus reaped children's CPU) as a percentage of one core. Goal: < 2 %, and no
// child process while sampling.
//
//   bun bench/probe.ts [--seconds 30] [--interval-ms 1000]
//   bun bench/probe.ts --calls     cost of each systeminformation call instead
//   bun bench/probe.ts --si        sample with si.currentLoad() + si.mem()
//                                  instead, for comparison (spawns each time)
//
// Prints one JSON line.
//
// Child processes are counted by wrapping node:child_process and Bun.spawn
// *before* the sampler and systeminformation are imported (systeminformation
// keeps its own references from load time). Their CPU is cross-checked with
// the cutime/cstime of /proc/self/stat (reaped children, USER_HZ ticks).
import { installSpawnCounter } from "../test/helpers/spawn-counter.ts";
import { readFileSync } from "node:fs";
import { statFields } from "./support/cpu.ts";

const spawnCounter = installSpawnCounter();

const { createSampler } = await import("../plugins/probe/sample.ts");

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** CPU ms of reaped children (cutime + cstime); 0 off Linux. USER_HZ = 100. */
function childCpuMs(): number {
  try {
    const fields = statFields("self");
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return 0;
  }
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Phase {
  wallMs: number;
  cpuMs: number;
  childCpuMs: number;
  spawns: number;
  ticks: number;
  tickWallMs: number[];
}

/** Runs `fn` every intervalMs for `seconds`, measuring the whole span. */
async function phase(seconds: number, intervalMs: number, fn: () => Promise<unknown> | void): Promise<Phase> {
  const total = Math.round((seconds * 1000) / intervalMs);
  const tickWallMs: number[] = [];
  const s0 = spawnCounter.count();
  const k0 = childCpuMs();
  const c0 = cpuMs();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let n = 0;
    const timer = setInterval(async () => {
      const a = performance.now();
      await fn();
      tickWallMs.push(performance.now() - a);
      if (++n >= total) {
        clearInterval(timer);
        resolve();
      }
    }, intervalMs);
  });
  return {
    wallMs: performance.now() - t0,
    cpuMs: cpuMs() - c0,
    childCpuMs: childCpuMs() - k0,
    spawns: spawnCounter.count() - s0,
    ticks: tickWallMs.length,
    tickWallMs,
  };
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function benchSampler() {
  const seconds = arg("seconds", 30);
  const intervalMs = arg("interval-ms", 1000);
  const useSi = process.argv.includes("--si");
  const sampler = useSi ? await siSampler() : createSampler();
  // Warm up: module loading, JIT, first /proc reads are not the steady state.
  for (let i = 0; i < 3; i++) {
    await sampler.sample();
    await Bun.sleep(50);
  }
  Bun.gc(true);

  const baseline = await phase(seconds, intervalMs, () => {});
  Bun.gc(true);
  const sampling = await phase(seconds, intervalMs, () => sampler.sample());

  // Children's CPU counts too: a sampler that shells out must not look cheap.
  const pct = (p: Phase) => ((p.cpuMs + p.childCpuMs) / p.wallMs) * 100;
  const costPct = pct(sampling) - pct(baseline);
  const out = {
    bench: "probe",
    ...(useSi ? { sampler: "si.currentLoad+si.mem" } : {}),
    interval_ms: intervalMs,
    seconds,
    cpu_percent_of_one_core: round(costPct),
    baseline_cpu_percent: round(pct(baseline)),
    sampling_cpu_percent: round(pct(sampling)),
    cpu_ms_per_sample: round(((costPct / 100) * sampling.wallMs) / sampling.ticks),
    sample_wall_ms_p50: round(percentile(sampling.tickWallMs, 50)),
    sample_wall_ms_max: round(Math.max(...sampling.tickWallMs)),
    samples: sampling.ticks,
    spawned_processes: sampling.spawns,
    child_cpu_ms: sampling.childCpuMs,
    goal_percent: 2,
    ok: costPct < 2 && sampling.spawns === 0 && sampling.childCpuMs === 0,
  };
  console.log(JSON.stringify(out));
}

/** The obvious systeminformation sampler, for comparison only. */
async function siSampler() {
  const si = await import("systeminformation");
  return { sample: () => Promise.all([si.currentLoad(), si.mem()]) };
}

/** Per-call cost of the systeminformation (and node) calls we considered. */
async function benchCalls() {
  const si = await import("systeminformation");
  const os = await import("node:os");
  const { statfsSync } = await import("node:fs");
  const reps = arg("reps", 5);
  const cases: [string, () => unknown][] = [
    ["si.mem", () => si.mem()],
    ["si.currentLoad", () => si.currentLoad()],
    ["si.cpuCurrentSpeed", () => si.cpuCurrentSpeed()],
    ["si.time", () => si.time()],
    ["si.cpu", () => si.cpu()],
    ["si.osInfo", () => si.osInfo()],
    ["si.fsSize", () => si.fsSize()],
    ["os.cpus", () => os.cpus()],
    ["os.loadavg", () => os.loadavg()],
    ["read /proc/stat", () => readFileSync("/proc/stat", "utf8")],
    ["statfs", () => statfsSync(process.cwd())],
    ["sampler.sample", (() => {
      const s = createSampler();
      return () => s.sample();
    })()],
  ];
  const calls: Record<string, unknown> = {};
  for (const [name, fn] of cases) {
    await fn(); // first call: lazy init, caches
    let wall = 0;
    let cpu = 0;
    let kid = 0;
    let sp = 0;
    for (let i = 0; i < reps; i++) {
      // > 200 ms apart: systeminformation caches some readings for 200 ms.
      await Bun.sleep(250);
      const s0 = spawnCounter.count();
      const k0 = childCpuMs();
      const c0 = cpuMs();
      const t0 = performance.now();
      await fn();
      wall += performance.now() - t0;
      cpu += cpuMs() - c0;
      kid += childCpuMs() - k0;
      sp += spawnCounter.count() - s0;
    }
    calls[name] = {
      wall_ms: round(wall / reps, 2),
      cpu_ms: round(cpu / reps, 2),
      child_cpu_ms: round(kid / reps, 1),
      spawns: round(sp / reps, 1),
    };
  }
  console.log(JSON.stringify({ bench: "probe-calls", reps, calls }));
}

if (process.argv.includes("--calls")) await benchCalls();
else await benchSampler();
