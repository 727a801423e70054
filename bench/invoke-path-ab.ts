// Before/after for the invoke proxy's own per-request work: this
// checkout's in-process harness (bench/invoke-path.ts: the sockets engine
// driven through fake sockets, no kernel, no other process) run on two
// trees' modules in turn, each in a fresh process, swapping the order every
// round. The figure is the process's CPU per request (all threads, so GC
// and JIT helper threads count), which a busy shared machine disturbs far
// less than wall time or req/s on real sockets (bench/invoke-ab.ts).
//
//   npx bun bench/invoke-path-ab.ts --before DIR [--after DIR] [--rounds 6] [--requests 100000] [--runs 5]
//
// Prints one JSON line: per tree the median over rounds of each round's
// best CPU µs per request, and in how many rounds the after tree used less.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { BUN, ROOT } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";

const BEFORE = stringFlag("before", "");
const AFTER = stringFlag("after", "") || ROOT;
const ROUNDS = numberFlag("rounds", 6);
const REQUESTS = numberFlag("requests", 100_000);
const RUNS = numberFlag("runs", 5);
for (const [flag, dir] of [["before", BEFORE], ["after", AFTER]] as const) {
  if (!dir || !existsSync(join(dir, "plugins/invoke/fast/server.ts"))) {
    console.error(`invoke-path-ab.ts: --${flag} DIR must name a corral checkout, e.g. \`git worktree add /tmp/before <commit>\``);
    process.exit(2);
  }
}

/** One run of the harness on `tree`: its best CPU µs per request. */
function cpuPerRequest(tree: string): number {
  const r = spawnSync(BUN, [join(ROOT, "bench/invoke-path.ts"), "--tree", resolve(tree), "--requests", String(REQUESTS), "--runs", String(RUNS)], { encoding: "utf8" });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return (JSON.parse(line) as { usPerRequest: { corral: { cpuMin: number } } }).usPerRequest.corral.cpuMin;
  } catch {
    throw new Error(`invoke-path.ts on ${tree} failed (exit ${r.status}): ${r.stderr || line}`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const got = { before: [] as number[], after: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 ? (["after", "before"] as const) : (["before", "after"] as const);
  for (const side of order) got[side].push(cpuPerRequest(side === "before" ? BEFORE : AFTER));
}
console.log(JSON.stringify({
  bench: "invoke-path-ab", before: resolve(BEFORE), after: resolve(AFTER), rounds: ROUNDS, requests: REQUESTS, runs: RUNS,
  cpu_us_per_req: { before: median(got.before), after: median(got.after) },
  after_vs_before: Math.round((median(got.after) / median(got.before)) * 1000) / 1000,
  rounds_after_less_cpu: got.after.filter((a, i) => a < got.before[i]!).length,
  per_round: got,
}));
