// The sharded `npm test` (test/run.ts): the plan that splits the files, the
// reading of bun's output, and each shard's own slice of loopback ports.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { bunCounts, failLines, fileHeader, fileSeconds } from "../runner/bun-output.ts";
import { planShards, shardCount, UNKNOWN_FILE_SECONDS } from "../runner/shard-plan.ts";
import { inSlice, pickInSlice, portSlice } from "../helpers/port-slice.ts";
import { BUN, ROOT } from "../helpers/proc.ts";

describe("shard plan", () => {
  const seconds = { "test/a.test.ts": 40, "test/b.test.ts": 30, "test/c.test.ts": 20, "test/d.test.ts": 20, "test/e.test.ts": 10, "test/f.test.ts": 10 };
  const files = Object.keys(seconds);

  test("every file in exactly one shard, longest first to the least loaded, path order within a shard", () => {
    const p = planShards(files, { seconds, serial: [] }, 2);
    expect(p.shards.map((s) => s.files)).toEqual([
      ["test/a.test.ts", "test/d.test.ts", "test/f.test.ts"], // 40, then 20 at 40 vs 50, then 10 at the 60-60 tie
      ["test/b.test.ts", "test/c.test.ts", "test/e.test.ts"],
    ]);
    expect(p.shards.map((s) => s.seconds)).toEqual([70, 60]);
    expect(p.serial).toEqual([]);
  });

  test("serial files leave the shards; unknown files count as a typical file; empty shards are dropped", () => {
    const p = planShards([...files, "test/new.test.ts"], { seconds, serial: ["test/a.test.ts", "test/gone.test.ts"] }, 3);
    expect(p.serial).toEqual(["test/a.test.ts"]);
    expect(p.shards.flatMap((s) => s.files).sort()).toEqual([...files.slice(1), "test/new.test.ts"].sort());
    expect(p.shards.reduce((n, s) => n + s.seconds, 0)).toBe(90 + UNKNOWN_FILE_SECONDS);
    expect(planShards(["test/a.test.ts"], { seconds, serial: [] }, 3).shards).toHaveLength(1);
  });

  test("the same plan whatever order the files were listed in", () => {
    const a = planShards(files, { seconds, serial: [] }, 3);
    const b = planShards([...files].reverse(), { seconds, serial: [] }, 3);
    expect(b).toEqual(a);
  });

  test("shard count from CORRAL_TEST_SHARDS, else the default", () => {
    expect(shardCount({ CORRAL_TEST_SHARDS: "2" }, 3)).toBe(2);
    expect(shardCount({ CORRAL_TEST_SHARDS: "1" }, 3)).toBe(1);
    for (const bad of [undefined, "", "0", "-1", "1.5", "two"]) expect(shardCount({ CORRAL_TEST_SHARDS: bad }, 3)).toBe(3);
  });
});

describe("bun output", () => {
  const out = [
    "bun test v1.4.5",
    "",
    "test/x/a.test.ts:",
    "(pass) a > one [1.00ms]",
    "(fail) a > two [2.00ms]",
    "",
    "test/x/b.test.ts:",
    "(pass) b [1.00ms]",
    "",
    " 2 pass",
    " 1 fail",
    "Ran 3 tests across 2 files.",
    " 5 pass",
    " 0 fail",
  ].join("\n");

  test("counts, fail lines and file headers", () => {
    expect(bunCounts(out)).toEqual({ passed: 7, failed: 1 });
    expect(failLines(out)).toEqual(["(fail) a > two [2.00ms]"]);
    expect(fileHeader("test/x/a.test.ts:")).toBe("test/x/a.test.ts");
    expect(fileHeader("(pass) test/x/a.test.ts:")).toBeUndefined();
    expect(fileHeader("see test/x/a.test.ts: here")).toBeUndefined();
  });

  test("a file's seconds run from its header to the next one, the last to the end", () => {
    expect(fileSeconds([{ file: "a", atMs: 1000 }, { file: "b", atMs: 3500 }], 4000)).toEqual({ a: 2.5, b: 0.5 });
  });
});

describe("port slices", () => {
  test("CORRAL_TEST_SHARD=i/n names slice i of n; anything else is one slice of every port", () => {
    expect(portSlice({ CORRAL_TEST_SHARD: "2/3" })).toEqual({ index: 2, count: 3 });
    for (const bad of [undefined, "", "3/3", "1", "a/b", "1/0"]) expect(portSlice({ CORRAL_TEST_SHARD: bad })).toEqual({ index: 0, count: 1 });
  });

  test("picks stay in [low, high) and in the slice, and reach both ends", () => {
    for (const slice of [{ index: 0, count: 1 }, { index: 0, count: 3 }, { index: 1, count: 3 }, { index: 2, count: 3 }]) {
      const picks = [0, 0.25, 0.5, 0.999999].map((r) => pickInSlice(10_000, 32_768, slice, r));
      for (const p of picks) {
        expect(p).toBeGreaterThanOrEqual(10_000);
        expect(p).toBeLessThan(32_768);
        expect(inSlice(p, slice)).toBe(true);
      }
      expect(picks[0]!).toBeLessThan(10_000 + slice.count);
      expect(picks[3]!).toBeGreaterThanOrEqual(32_768 - slice.count);
    }
  });

  test("freePort in a shard's process only hands out ports of that shard's slice", () => {
    // A real bun process with the env test/run.ts gives a shard.
    const script = `import { freePort } from ${JSON.stringify(join(ROOT, "test/helpers/proc.ts"))};
      const ports = []; for (let i = 0; i < 40; i++) ports.push(await freePort()); console.log(JSON.stringify(ports));`;
    for (const shard of [0, 1, 2]) {
      const r = spawnSync(BUN, ["-e", script], { cwd: ROOT, env: { ...process.env, CORRAL_TEST_SHARD: `${shard}/3` }, encoding: "utf8", timeout: 60_000 });
      expect(r.status).toBe(0);
      const ports = JSON.parse(r.stdout.trim()) as number[];
      expect(ports).toHaveLength(40);
      expect(ports.filter((p) => p % 3 !== shard)).toEqual([]);
    }
  });
});
