// How to schedule 10,000 checks at a 10 s interval (1,000 runs a second):
// one setInterval per check (spread over the interval) against the health
// plugin's DueQueue min-heap with one timer (plugins/health/scheduler.ts).
// Each way runs in its own child process for --seconds (20) with a trivial
// job per run; we compare CPU % of one core, RSS and the runs achieved.
// Prints one JSON line.   npx bun bench/check-timers.ts [--seconds 20] [--checks 10000] [--interval 10]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { DueQueue, firstRunAt, nextRunAt } from "../plugins/health/scheduler.ts";
import { BATCH_WINDOW_MS } from "../plugins/health/runner.ts";
import { numberFlag } from "./support/args.ts";

const SECONDS = numberFlag("seconds", 20);
const CHECKS = numberFlag("checks", 10_000);
const INTERVAL_MS = numberFlag("interval", 10) * 1000;
const args = process.argv.slice(2);
const mode = args.find((a) => a.startsWith("--mode="))?.slice(7);

function rssMb(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

let runs = 0;
const job = (id: string) => void (runs += id.length > 0 ? 1 : 0);

function intervals(): void {
  for (let i = 0; i < CHECKS; i++) {
    const id = `check-${i}`;
    setTimeout(() => {
      job(id);
      setInterval(() => job(id), INTERVAL_MS);
    }, Math.floor(Math.random() * INTERVAL_MS));
  }
}

function heap(): void {
  const q = new DueQueue();
  const due = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const next = q.next();
    if (timer) clearTimeout(timer);
    timer = next === undefined ? undefined : setTimeout(fire, Math.max(0, next - performance.now()));
  };
  const fire = () => {
    const now = performance.now();
    for (const id of q.popDue(now + BATCH_WINDOW_MS)) {
      job(id);
      const at = nextRunAt(due.get(id)!, now, INTERVAL_MS);
      due.set(id, at);
      q.schedule(id, at);
    }
    arm();
  };
  for (let i = 0; i < CHECKS; i++) {
    const at = firstRunAt(performance.now(), INTERVAL_MS, Math.random);
    due.set(`check-${i}`, at);
    q.schedule(`check-${i}`, at);
  }
  arm();
}

async function child(which: string): Promise<void> {
  const rss0 = rssMb();
  if (which === "intervals") intervals();
  else heap();
  await Bun.sleep(INTERVAL_MS); // every check has started
  const c0 = process.cpuUsage();
  const r0 = runs;
  const t0 = performance.now();
  await Bun.sleep(SECONDS * 1000);
  const c = process.cpuUsage(c0);
  const secs = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({
    cpu_percent: Number((((c.user + c.system) / 1e6 / secs) * 100).toFixed(2)),
    runs_per_s: Math.round((runs - r0) / secs),
    rss_mb: rssMb(),
    rss_added_mb: rssMb() - rss0,
  }));
  process.exit(0);
}

if (mode) {
  await child(mode);
} else {
  const run = (m: string) => JSON.parse(spawnSync(process.execPath, [import.meta.path, `--mode=${m}`, ...args], { encoding: "utf8" }).stdout.trim().split("\n").pop()!);
  console.log(JSON.stringify({ bench: "check-timers", checks: CHECKS, interval_s: INTERVAL_MS / 1000, seconds: SECONDS, set_intervals: run("intervals"), heap_one_timer: run("heap") }));
}
