// `npm test`: the whole suite. 1) `bun test` over test/ (unit, simulation,
// multi-process); 2) the Node twins (*.node.ts) bundled with esbuild and run
// with `node --test`, so the store contract is proven under both runtimes.
// Ends with one line "N passed, N failed" and exits non-zero on any failure.
// Extra arguments go to `bun test` (e.g. a path filter).
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

const ROOT = join(import.meta.dir, "..");
const args = process.argv.slice(2);

function run(cmd: string, argv: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let out = "";
    const tee = (stream: NodeJS.WriteStream) => (d: Buffer) => {
      out += d;
      stream.write(d);
    };
    child.stdout.on("data", tee(process.stdout));
    child.stderr.on("data", tee(process.stderr));
    child.on("exit", (code) => resolve({ code: code ?? 1, out }));
  });
}

function count(out: string, re: RegExp): number {
  let n = 0;
  for (const m of out.matchAll(re)) n += Number(m[1]);
  return n;
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

const bunRun = await run(process.execPath, ["test", "--timeout", "120000", ...args]);
let passed = count(bunRun.out, /^\s*(\d+) pass$/gm);
let failed = count(bunRun.out, /^\s*(\d+) fail$/gm);
let ok = bunRun.code === 0;

if (args.length === 0) {
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
  process.stdout.write(`\nNode ${process.versions.node ? "" : ""}run (node --test): ${files.map((f) => relative(ROOT, f)).join(", ")}\n`);
  const nodeRun = await run("node", ["--test", "--test-reporter=spec", ...files]);
  passed += count(nodeRun.out, /^ℹ pass (\d+)$/gm);
  failed += count(nodeRun.out, /^ℹ fail (\d+)$/gm);
  ok &&= nodeRun.code === 0;
}

if (!ok && failed === 0) failed = 1; // a runner crashed without counting
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(ok && failed === 0 ? 0 : 1);
