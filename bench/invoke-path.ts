// The invoke listener's per-request work in JavaScript alone: corral's
// raw-socket exchange path (head parse, routing, the call loop with
// balancer, breaker and budget, trace ids, the attempt, the answer's head,
// forwarding, metrics) driven in process through fake sockets, so no kernel,
// no scheduling and no other process is in the figure. Beside it, the same
// loop with a client that answers at once (the harness's own cost).
//
// bench/invoke.ts measures the whole proxy on real sockets; this one says
// how much of it is corral's own code, with no noise from a shared machine.
// Prints one JSON line: wall µs per request (best and median of the runs)
// and the process's CPU µs per request (user + system, all threads: GC and
// JIT helpers included), which other load on a shared machine disturbs far
// less than wall time.
//   npx bun bench/invoke-path.ts [--requests 100000] [--runs 7] [--tree DIR]
// --tree runs another checkout's modules in this harness (bench/invoke-path-ab.ts
// alternates two trees that way). The rig itself: support/invoke-path-rig.ts.
import { ROOT } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { pathRig } from "./support/invoke-path-rig.ts";

const REQUESTS = numberFlag("requests", 100_000);
const RUNS = numberFlag("runs", 7);
const TREE = stringFlag("tree", ROOT);

const rig = await pathRig(TREE);

/** Sends REQUESTS requests one after the other; µs per request (wall, and CPU of the process), best and median of RUNS. */
async function measure(run: (n: number) => Promise<void>): Promise<{ min: number; median: number; cpuMin: number; cpuMedian: number }> {
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(REQUESTS);
    const c = process.cpuUsage(c0);
    if (r === 0) continue; // the first run warms the JIT
    runs.push(((performance.now() - t0) * 1000) / REQUESTS);
    cpu.push((c.user + c.system) / REQUESTS);
  }
  runs.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  const mid = Math.floor(runs.length / 2);
  return { min: round(runs[0]!), median: round(runs[mid]!), cpuMin: round(cpu[0]!), cpuMedian: round(cpu[mid]!) };
}

const harness = await measure(rig.runBare);
const corral = await measure(rig.run);
console.log(JSON.stringify({
  bench: "invoke-path", tree: TREE, requests: REQUESTS, runs: RUNS,
  usPerRequest: { corral, harness },
  corralMinusHarnessUs: Math.round((corral.median - harness.median) * 100) / 100,
}));
rig.stop();
process.exit(0);
