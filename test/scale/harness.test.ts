// The scale harness at a small size, so it keeps working between the long
// runs (bench/scale.ts at full size is a benchmark, not a test): each
// scenario runs against a real leader process with simulated agents built
// from the real agent's parts, and its JSON line must show the whole thing
// happened — every allocation acknowledged running, every watcher woken by
// the change and seeing it, heartbeats measured.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BUN, ROOT, tempDir } from "../helpers/proc.ts";

function scale(args: string[]): Record<string, any> {
  const r = spawnSync(BUN, [join(ROOT, "bench/scale.ts"), ...args, "--timeout", "150"], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let out: Record<string, any>;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`bench/scale.ts printed no JSON line (exit ${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  if (out.error) throw new Error(`bench/scale.ts: ${out.error}\n${r.stderr.slice(-2000)}`);
  return out;
}

describe("bench/scale.ts, small", () => {
  test("placement: every allocation placed on simulated agents is reported running", () => {
    const out = scale(["--scenario", "placement", "--agents", "40", "--jobs", "4", "--count", "25"]);
    expect(out.allocations).toBe(100);
    expect(out.allocations_per_s).toBeGreaterThan(0);
    expect(out.register_to_running_p99_ms).toBeGreaterThan(0);
  }, 180_000);

  test("catalog: one registration wakes every blocking watcher, and each sees it", () => {
    const out = scale(["--scenario", "catalog", "--agents", "40", "--services", "3", "--service-names", "10", "--watchers", "80"]);
    expect(out.instances).toBe(120);
    expect(out.woke_with_change).toBe(80);
    expect(out.fanout_p99_ms).toBeGreaterThan(0);
  }, 180_000);

  test("churn: jobs come and go, nodes are replaced, checks flap; RSS and the data folder are measured", () => {
    const out = scale(["--scenario", "churn", "--agents", "30", "--seconds", "8", "--heap", tempDir("corral-heap-")]);
    expect(out.jobs_registered).toBe(40);
    expect(out.errors).toBe(0);
    expect(typeof out.rss_drift_percent).toBe("number");
    // The leader's heap after a full GC at each quarter (core/debug-heap.ts through SIGUSR2).
    expect(Object.keys(out.heap_after_gc_mb).sort()).toEqual(["2", "4", "6", "8"]);
    for (const mb of Object.values(out.heap_after_gc_mb)) expect(mb).toBeGreaterThan(0);
    expect(out.data_dir_mb.end).toBeGreaterThanOrEqual(0);
  }, 180_000);

  test("heartbeats: agents join and beat at the interval the leader asks", () => {
    const out = scale(["--scenario", "heartbeats", "--agents", "60", "--seconds", "2"]);
    expect(out.agents).toBe(60);
    // 60 agents at 1,000 beats/s ask 60 ms: each keeps its own 1 s.
    expect(out.heartbeat_interval_ms).toBe(1000);
    expect(out.leader_cpu_percent).toBeGreaterThanOrEqual(0);
  }, 180_000);
});
