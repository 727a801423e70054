// npx bun test/sim/cli.ts --seeds N --start S [--verbose] [--seed X]
// Runs seeds S..S+N-1 of the simulator; prints progress, the first failing
// seed with its fault mix, and a final JSON summary line. Exit 1 on failure.
import { runSeed } from "./sim.ts";
import { describeSwarm } from "./swarm.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v)) {
    process.stderr.write(`--${name} needs an integer\n`);
    process.exit(2);
  }
  return v;
}

const single = process.argv.includes("--seed") ? arg("seed", 0) : undefined;
const start = single ?? arg("start", 1);
const seeds = single !== undefined ? 1 : arg("seeds", 100);
const verbose = process.argv.includes("--verbose");
const keepGoing = process.argv.includes("--keep-going");

const t0 = performance.now();
let failures = 0;
const failed: number[] = [];
let lastReport = t0;
for (let seed = start; seed < start + seeds; seed++) {
  const res = runSeed(seed);
  if (verbose) process.stdout.write(`seed ${seed}: ${res.ok ? "ok" : "FAIL"} ${describeSwarm(res.swarm)} ${JSON.stringify(res.stats)}\n`);
  if (!res.ok) {
    failures++;
    failed.push(seed);
    process.stdout.write(`FAIL seed ${seed}\n  swarm: ${describeSwarm(res.swarm)}\n  ${res.failure}\n  replay: npx bun test/sim/cli.ts --seed ${seed} --verbose\n`);
    if (!keepGoing) break;
  }
  const now = performance.now();
  if (!verbose && now - lastReport > 5000) {
    lastReport = now;
    process.stdout.write(`... ${seed - start + 1}/${seeds} seeds, ${failures} failures, ${((now - t0) / 1000).toFixed(0)} s\n`);
  }
}
const ms = Math.round(performance.now() - t0);
process.stdout.write(JSON.stringify({ seeds, start, failures, ...(failed.length ? { failed } : {}), ms }) + "\n");
process.exit(failures > 0 ? 1 : 0);
