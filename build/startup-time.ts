// Startup time of the compiled binary: spawn `corral dev` -> first 200 on
// GET /v1/healthz, median of N runs (default 5), each with a fresh data dir
// in a fresh empty folder holding only a copy of the binary.
//
//   npx bun build/startup-time.ts [--binary=dist/corral] [--runs=5] [--build]
//
// Builds dist/corral first if it is missing (or with --build). Prints one
// JSON line on stdout:
//   {"bench":"startup","binary_bytes":...,"median_ms":...,"runs_ms":[...]}
// Progress goes to stderr. Polls every 5 ms, so figures are +-5 ms.
import { copyFileSync, chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build, ROOT } from "./build.ts";
import { freePort, killAll, spawnNode } from "./harness.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const binary = resolve(ROOT, flag("binary") ?? "dist/corral");
const runs = Math.max(1, Number(flag("runs") ?? 5));

process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));

if (argv.includes("--build") || !existsSync(binary)) {
  if (flag("binary")) {
    console.error(`no binary at ${binary}`);
    process.exit(2);
  }
  console.error("building dist/corral ...");
  await build({ only: "binary" });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const runsMs: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), "corral-startup-"));
  try {
    copyFileSync(binary, join(dir, "corral"));
    chmodSync(join(dir, "corral"), 0o755);
    const port = await freePort();
    const node = spawnNode(["./corral", "dev", "--data-dir", "./data", "--http-port", String(port)], { cwd: dir, port });
    try {
      const ms = await node.waitHealthy(30_000, 5);
      runsMs.push(Math.round(ms * 10) / 10);
      console.error(`run ${i + 1}/${runs}: ${ms.toFixed(1)} ms`);
    } finally {
      await node.stop(10_000);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  JSON.stringify({
    bench: "startup",
    binary_bytes: statSync(binary).size,
    median_ms: Math.round(median(runsMs) * 10) / 10,
    runs_ms: runsMs,
  }),
);
