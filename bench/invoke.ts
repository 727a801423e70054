// Service invocation overhead: wrk against the same backends four ways, in
// one run — straight to a backend, through corral's invoke proxy listener
// (Host routing, p2c over the backends), through HAProxy (`mode http`,
// `balance roundrobin`, keep-alive both sides, config generated in a temp
// dir), and through a bare Bun TCP relay (bench/support/bare-relay.ts: no
// HTTP, no policy — the floor for any proxy on Bun's sockets). Runs are interleaved over several rounds and the median round is
// kept, since other processes share the machine.
//
// Two phases: loaded (--connections, default 32: req/s and latency under
// load) and unloaded (one connection: what the hop itself adds to a request).
// Also the CPU each proxy process spends per request (/proc/<pid>/stat),
// which other load on the machine disturbs far less than req/s.
// Prints one JSON line. Goals (issue 21): corral >= 1.0x HAProxy's req/s and
// a p99 under load no higher than HAProxy's, <= 0.3 ms added to p50 over direct.
//   npx bun bench/invoke.ts [--seconds 5] [--rounds 3] [--connections 32] [--backends 2] [--profile DIR]
// Needs wrk and haproxy (apt-get install -y wrk haproxy). --profile writes
// corral's CPU profile (markdown) into DIR.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { BUN, ROOT, killAll, startCorral } from "../test/helpers/proc.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing, type Backend } from "../test/invoke/helpers.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { startHaproxy } from "./support/haproxy.ts";
import { round3, wrk, type Figures } from "./support/wrk.ts";

const SECONDS = numberFlag("seconds", 5);
const ROUNDS = numberFlag("rounds", 3);
const CONNECTIONS = numberFlag("connections", 32);
const BACKENDS = numberFlag("backends", 2);
const PROFILE_DIR = stringFlag("profile", "") || undefined;

/** The bare relay, in its own process like the others. */
async function startBareRelay(backends: Backend[]): Promise<{ port: number; pid: number; stop(): void }> {
  const child = spawn(BUN, [join(ROOT, "bench/support/bare-relay.ts"), ...backends.map((b) => String(b.port))], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`bare relay exited (${code})`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill("SIGKILL") };
}

function median(list: Figures[]): Figures {
  const by = (k: keyof Figures) => [...list].sort((a, b) => (a[k] ?? 0) - (b[k] ?? 0))[Math.floor(list.length / 2)]![k];
  const cpu = by("cpuUsPerReq");
  return { rps: by("rps")!, p50Ms: by("p50Ms")!, p99Ms: by("p99Ms")!, ...(cpu ? { cpuUsPerReq: cpu } : {}) };
}

/** Interleaves the three targets round by round; returns the median figures of each. */
function phase(targets: Record<string, { url: string; host?: string; pid?: number }>, connections: number): Record<string, Figures> {
  const runs: Record<string, Figures[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  for (const [, t] of Object.entries(targets)) wrk(t.url, connections, 1, t.host); // warm-up: connections, JIT
  for (let r = 0; r < ROUNDS; r++) for (const [k, t] of Object.entries(targets)) runs[k]!.push(wrk(t.url, connections, SECONDS, t.host, t.pid));
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
}

const node = await startCorral({
  role: "dev",
  config: `[plugins]\nenabled = ["discovery", "invoke"]\nwatch = false\n\n[plugins.invoke]\nport = 0\n`,
  env: { CORRAL_NODE_LOG_LEVEL: "warn", ...(PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}` } : {}) },
});
let haproxy: { port: number; pid: number; stop(): void } | undefined;
let bare: { port: number; pid: number; stop(): void } | undefined;
try {
  const backends = await Promise.all(Array.from({ length: BACKENDS }, (_, i) => startBackend(`b${i}`)));
  for (const b of backends) await register(node, "bench", b);
  await waitPassing(node, "bench", BACKENDS);
  const port = await proxyPort(node);
  haproxy = await startHaproxy(backends);
  bare = await startBareRelay(backends);
  const targets = {
    direct: { url: `${backends[0]!.url}/` },
    corral: { url: `http://127.0.0.1:${port}/`, host: "bench", pid: node.child.pid },
    haproxy: { url: `http://127.0.0.1:${haproxy.port}/`, pid: haproxy.pid },
    bareRelay: { url: `http://127.0.0.1:${bare.port}/`, pid: bare.pid },
  };
  const loaded = phase(targets, CONNECTIONS);
  const unloaded = phase(targets, 1);
  console.log(JSON.stringify({
    bench: "invoke", seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, backends: BACKENDS,
    ...loaded,
    unloaded,
    ratios: {
      corralOverHaproxyRps: round3(loaded.corral!.rps / loaded.haproxy!.rps),
      corralOverHaproxyCpuPerReq: round3((loaded.corral!.cpuUsPerReq ?? 0) / (loaded.haproxy!.cpuUsPerReq ?? 1)),
      // Issue 21's second goal: p99 under load no worse than HAProxy's (set mostly by preemption on the shared cores, GC pauses the slowest ~0.25 %: docs/invoke.md, "Third pass").
      corralOverHaproxyP99: round3(loaded.corral!.p99Ms / loaded.haproxy!.p99Ms),
      // The runtime's own floor: what a Bun proxy with no HTTP and no policy reaches against HAProxy.
      bareRelayOverHaproxyRps: round3(loaded.bareRelay!.rps / loaded.haproxy!.rps),
      bareRelayOverHaproxyCpuPerReq: round3((loaded.bareRelay!.cpuUsPerReq ?? 0) / (loaded.haproxy!.cpuUsPerReq ?? 1)),
      // Under load p50 is mostly queueing (connections / req/s): shown for both proxies.
      corralMinusDirectP50Ms: round3(loaded.corral!.p50Ms - loaded.direct!.p50Ms),
      haproxyMinusDirectP50Ms: round3(loaded.haproxy!.p50Ms - loaded.direct!.p50Ms),
      // What the hop itself adds to one request: the latency goal.
      unloadedCorralMinusDirectP50Ms: round3(unloaded.corral!.p50Ms - unloaded.direct!.p50Ms),
      unloadedHaproxyMinusDirectP50Ms: round3(unloaded.haproxy!.p50Ms - unloaded.direct!.p50Ms),
    },
    goal: "corralOverHaproxyRps >= 1.0, corralOverHaproxyP99 <= 1.0 and unloadedCorralMinusDirectP50Ms <= 0.3",
    goalMet: {
      rps: loaded.corral!.rps / loaded.haproxy!.rps >= 1.0,
      p99: loaded.corral!.p99Ms <= loaded.haproxy!.p99Ms,
      addedP50: unloaded.corral!.p50Ms - unloaded.direct!.p50Ms <= 0.3,
    },
  }));
} finally {
  haproxy?.stop();
  bare?.stop();
  await killBackends();
  // SIGTERM first so --profile gets written.
  if (PROFILE_DIR) await node.kill("SIGTERM");
  await killAll();
}
