// bench/container.ts keeps working: a run with 2 allocations against the
// reference registry and runc prints its JSON line with every figure.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { registryToolsMissing } from "./registry-helpers.ts";

const missing = registryToolsMissing() ?? (process.getuid?.() !== 0 ? "containers need root" : undefined) ??
  (["/usr/sbin/runc", "/usr/bin/runc"].some(existsSync) ? undefined : "runc is not installed (apt package runc)");
if (missing) console.log(`skipping the container bench smoke test: ${missing}`);

describe.skipIf(!!missing)("bench/container.ts", () => {
  test("2 allocations: cold, warm and floor times and the goal ratio", () => {
    const r = spawnSync(process.execPath, [join(import.meta.dir, "..", "..", "bench", "container.ts"), "--allocs", "2"], { encoding: "utf8", timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    for (const k of ["cold_ms", "warm_p50_ms", "warm_p99_ms", "floor_p50_ms", "warm_running_p50_ms"]) expect(line[k]).toBeGreaterThan(0);
    expect(line.warm_p99_ms).toBeGreaterThanOrEqual(line.warm_p50_ms);
    expect(line.warm_vs_floor).toBeCloseTo(line.warm_p50_ms / (1.5 * line.floor_p50_ms + 100), 2);
    expect(line.allocs).toBe(2);
    expect(r.stderr).toContain("warm start phases");
  }, 300_000);
});
