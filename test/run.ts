// `npm test`: the whole suite. 1) `bun test` over test/ (unit, simulation,
// multi-process), split into shards run as concurrent `bun test` processes
// (test/runner/shard-plan.ts, balanced by test/shards.json), then the files
// marked serial there, alone; 2) the Node twins (*.node.ts) bundled with
// esbuild and run with `node --test`, so the store contract is proven under
// both runtimes. Ends with one line "N passed, N failed" and exits non-zero
// on any failure. Extra arguments go to one plain `bun test` (e.g. a path
// filter), unsharded, and skip the Node twins. See docs/testing.md.
//
// Environment: CORRAL_TEST_SHARDS=N (default 3; 1 runs the files one after
// another in one process, as before sharding); CORRAL_TEST_DURATIONS=write
// stores the measured seconds per file in test/shards.json.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";
import { bunCounts, fileHeader, fileSeconds, failLines } from "./runner/bun-output.ts";
import { planShards, shardCount, type ShardTable } from "./runner/shard-plan.ts";

const ROOT = join(import.meta.dir, "..");
const TABLE = join(import.meta.dir, "shards.json");
const args = process.argv.slice(2);
const BUN_TEST = ["test", "--timeout", "120000"];

interface RunResult {
  code: number;
  out: string;
  seconds: number;
  headers: { file: string; atMs: number }[];
}

/**
 * Runs one process. `live`: its output goes straight through (one process at
 * a time); otherwise it is kept and printed as one block when it ends, so
 * concurrent shards do not interleave their lines in the log.
 */
function run(cmd: string, argv: string[], opts: { live: boolean; env?: Record<string, string> }): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    let out = "";
    let partial = "";
    const headers: RunResult["headers"] = [];
    const take = (stream: NodeJS.WriteStream) => (d: Buffer) => {
      const text = d.toString();
      out += text;
      if (opts.live) stream.write(text);
      // Each file's start, for the durations table (bun prints "test/x.test.ts:" as a file begins).
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        const file = fileHeader(l);
        if (file) headers.push({ file, atMs: Date.now() });
      }
    };
    child.stdout.on("data", take(process.stdout));
    child.stderr.on("data", take(process.stderr));
    child.on("close", (code, signal) => {
      if (signal) out += `\n(runner) ${cmd} ended by ${signal}\n`;
      resolve({ code: code ?? 1, out, seconds: (Date.now() - started) / 1000, headers });
    });
  });
}

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) found.push(...testFiles(p));
    else if (/\.test\.[cm]?[jt]sx?$/.test(e.name)) found.push(p);
  }
  return found;
}

function findNodeTests(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...findNodeTests(p));
    else if (e.name.endsWith(".node.ts")) found.push(p);
  }
  return found;
}

async function nodeTwins(): Promise<RunResult> {
  const outDir = join(ROOT, ".tmp/node-tests");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const entries = findNodeTests(join(ROOT, "test"));
  await build({
    entryPoints: entries,
    outdir: outDir,
    outbase: ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  const files = entries.map((e) => join(outDir, relative(ROOT, e)).replace(/\.ts$/, ".mjs"));
  const r = await run("node", ["--test", "--test-reporter=spec", ...files], { live: false });
  return { ...r, out: `Node run (node --test): ${files.map((f) => relative(ROOT, f)).join(", ")}\n${r.out}` };
}

function nodeCounts(out: string): { passed: number; failed: number } {
  const sum = (re: RegExp) => [...out.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return { passed: sum(/^ℹ pass (\d+)$/gm), failed: sum(/^ℹ fail (\d+)$/gm) };
}

const rule = (title: string) => `\n${"═".repeat(8)} ${title} ${"═".repeat(Math.max(8, 72 - title.length))}\n`;

function finish(passed: number, failed: number, ok: boolean): never {
  if (!ok && failed === 0) failed = 1; // a runner crashed without counting
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(ok && failed === 0 ? 0 : 1);
}

if (args.length > 0) {
  // A filter or other bun flags: one plain `bun test`, output live, as before sharding.
  const r = await run(process.execPath, [...BUN_TEST, ...args], { live: true });
  const c = bunCounts(r.out);
  finish(c.passed, c.failed, r.code === 0);
}

const table: ShardTable = { seconds: {}, serial: [], ...JSON.parse(readFileSync(TABLE, "utf8")) };
const files = testFiles("test");
const plan = planShards(files, table, shardCount(process.env, 3));
const started = Date.now();
process.stdout.write(
  `bun test over ${files.length} files: ${plan.shards.length} concurrent shard(s)` +
    `${plan.serial.length ? `, then ${plan.serial.length} file(s) alone` : ""} (test/shards.json)\n` +
    plan.shards.map((s, i) => `  shard ${i + 1}: ${s.files.length} files, ~${Math.round(s.seconds)} s measured before\n`).join(""),
);

let passed = 0;
let failed = 0;
let ok = true;
const fails: string[] = [];
const measured: Record<string, number> = {};
const timings: string[] = [];

function account(name: string, r: RunResult, counts: { passed: number; failed: number }): void {
  passed += counts.passed;
  failed += counts.failed;
  ok &&= r.code === 0;
  // bun repeats the failures at the end of its output: each once.
  fails.push(...new Set(failLines(r.out).map((l) => `${name}: ${l}`)));
  Object.assign(measured, fileSeconds(r.headers, Date.now()));
  timings.push(`${name}: ${r.seconds.toFixed(0)} s, ${counts.passed} passed, ${counts.failed} failed${r.code !== 0 ? ` (exit ${r.code})` : ""}`);
}

// The shards, and the Node twins beside them (a few seconds). Each block is
// printed as soon as its process ends.
const twins = nodeTwins();
await Promise.all(
  plan.shards.map(async (s, i) => {
    const name = `shard ${i + 1}/${plan.shards.length}`;
    // Each shard picks its loopback ports from its own slice (test/helpers/port-slice.ts).
    const env = { CORRAL_TEST_SHARD: `${i}/${plan.shards.length}` };
    const r = await run(process.execPath, [...BUN_TEST, ...s.files.map((f) => `./${f}`)], { live: false, env });
    process.stdout.write(rule(`${name}: ${s.files.length} files`) + r.out);
    account(name, r, bunCounts(r.out));
  }),
);
// Files that must have the machine to themselves, one after another.
for (const f of plan.serial) {
  process.stdout.write(rule(`alone: ${f}`));
  const r = await run(process.execPath, [...BUN_TEST, `./${f}`], { live: true });
  account(`alone ${f}`, r, bunCounts(r.out));
}
const t = await twins;
process.stdout.write(rule("Node twins") + t.out);
account("node twins", t, nodeCounts(t.out));

process.stdout.write(rule(`summary: ${((Date.now() - started) / 1000).toFixed(0)} s`) + timings.join("\n") + "\n");
if (fails.length) process.stdout.write(`\nFailed:\n${fails.join("\n")}\n`);
if (process.env.CORRAL_TEST_DURATIONS === "write") {
  const seconds = Object.fromEntries(Object.entries({ ...table.seconds, ...measured }).filter(([f]) => files.includes(f)).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(TABLE, `${JSON.stringify({ ...table, seconds }, null, 1)}\n`);
  process.stdout.write(`\nwrote ${Object.keys(measured).length} files' seconds to ${relative(ROOT, TABLE)}\n`);
}
finish(passed, failed, ok);
