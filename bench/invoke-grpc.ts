// gRPC unary through corral's proxy listener (h2c, one h2 session to the
// instance) against the same call straight to the instance, in one run: a
// grpc-js client makes sequential unary calls (one at a time: what the hop
// adds to a call, not throughput), alternating between the two targets in
// short blocks over several rounds so that other load on the machine hits
// both alike. Prints one JSON line; goal (issue 21): added p50 <= 0.2 ms.
//   npx bun bench/invoke-grpc.ts [--calls 2000] [--rounds 3] [--warmup 300] [--profile DIR]
// --profile writes corral's CPU profile (markdown) into DIR.
// The instance is test/invoke/grpc-backend.ts (@grpc/grpc-js, a dev
// dependency: the corral binary does not use it).
import { killAll, startCorral } from "../test/helpers/proc.ts";
import { proxyPort, register, waitPassing } from "../test/invoke/helpers.ts";
import { echoClient, killGrpcBackends, startGrpcBackend, unary, type EchoClient } from "../test/invoke/grpc-helpers.ts";
import { numberFlag, stringFlag } from "./support/args.ts";

const CALLS = numberFlag("calls", 2000);
const ROUNDS = numberFlag("rounds", 3);
const WARMUP = numberFlag("warmup", 300);
const PROFILE_DIR = stringFlag("profile", "") || undefined;
const BLOCK = 50;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

async function timed(c: EchoClient, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await unary(c, "ping");
    into.push(performance.now() - t0);
  }
}

async function main(): Promise<void> {
  const node = await startCorral({
    role: "dev", config: "[plugins.invoke]\nport = 0\n",
    env: { CORRAL_NODE_LOG_LEVEL: "warn", ...(PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}` } : {}) },
  });
  const backend = await startGrpcBackend("a");
  await register(node, "echo", backend);
  await waitPassing(node, "echo", 1);
  const port = await proxyPort(node);
  const direct = echoClient(backend.port);
  const viaCorral = echoClient(port, "echo");
  try {
    await timed(direct, WARMUP, []);
    await timed(viaCorral, WARMUP, []);
    const rounds: { directP50: number; corralP50: number; addedP50: number; addedP99: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const d: number[] = [];
      const c: number[] = [];
      for (let done = 0; done < CALLS; done += BLOCK) {
        await timed(direct, BLOCK, d);
        await timed(viaCorral, BLOCK, c);
      }
      d.sort((a, b) => a - b);
      c.sort((a, b) => a - b);
      rounds.push({
        directP50: round3(quantile(d, 0.5)), corralP50: round3(quantile(c, 0.5)),
        addedP50: round3(quantile(c, 0.5) - quantile(d, 0.5)), addedP99: round3(quantile(c, 0.99) - quantile(d, 0.99)),
      });
    }
    const median = [...rounds].sort((a, b) => a.addedP50 - b.addedP50)[Math.floor(rounds.length / 2)]!;
    console.log(JSON.stringify({
      bench: "invoke-grpc", calls: CALLS, rounds: ROUNDS,
      directP50Ms: median.directP50, corralP50Ms: median.corralP50, addedP50Ms: median.addedP50, addedP99Ms: median.addedP99,
      ratioP50: round3(median.corralP50 / median.directP50), goalAddedP50Ms: 0.2, met: median.addedP50 <= 0.2, allRounds: rounds,
    }));
  } finally {
    direct.close();
    viaCorral.close();
    await killGrpcBackends();
    if (PROFILE_DIR) await node.kill("SIGTERM"); // SIGTERM first so the profile gets written
    await killAll();
  }
}

await main();
process.exit(0);
