// The mesh's mTLS hop against HAProxy doing the same (issue 21), in one run:
//   corral:  client → agent A's proxy listener → mTLS (the caller's service
//            leaf) → agent B's mesh listener (intention checked) → instance
//   haproxy: client → HAProxy A → TLS with a client certificate → HAProxy B
//            (client certificate required and verified) → instance
//   direct:  client → instance
// Two corral agents on 127.0.0.2 and 127.0.0.3 (and a leader, the CA, on
// 127.0.0.1), as test/connect/mesh.test.ts runs them, ACLs ON (default deny):
// the client sends a token whose service identity is "web", and the
// intention web → bench allows the call — so every call is a mutually
// authenticated one, judged at B from the certificate. HAProxy A/B listen on
// the same two addresses.
//
// Two phases, targets interleaved round by round (median round kept):
//   loaded:  wrk at --connections (default 32): req/s, and the CPU each
//            proxy process (A's and B's) spent per request — steadier than
//            req/s when other work shares the machine;
//   paced:   --rate req/s (default 1000) from a fixed-rate generator
//            (bench/support/paced.ts, latency from when each request was
//            due): p99, and what each proxy pair adds to direct's p99.
// Prints one JSON line. Goal (issue 21): corral ≥ 1.0× HAProxy's req/s, and
// corral's added p99 at 1,000 req/s ≤ 0.5 ms.
//   npx bun bench/invoke-mesh.ts [--seconds 5] [--rounds 3] [--connections 32] [--rate 1000] [--profile DIR] [--lag-probe DIR]
// --profile writes agent A's and B's CPU profiles (markdown) into DIR;
// --lag-probe preloads bench/support/loop-lag-probe.ts into both agents (their
// event loops' stalls, logged into DIR: for finding stalls, not for figures).
// Needs wrk, haproxy and openssl.
import { eventually, getJson, killAll, type CorralProcess } from "../test/helpers/proc.ts";
import { call } from "../test/acl/helpers.ts";
import { startMeshCluster } from "../test/connect/mesh-cluster.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../test/invoke/helpers.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";
import { startHaproxyTlsPair, type HaproxyPair } from "./support/haproxy-tls.ts";
import { paced, type PacedFigures } from "./support/paced.ts";
import { round3, wrk, type Figures } from "./support/wrk.ts";

const SECONDS = numberFlag("seconds", 5);
const ROUNDS = numberFlag("rounds", 3);
const CONNECTIONS = numberFlag("connections", 32);
const RATE = numberFlag("rate", 1000);
const PROFILE_DIR = stringFlag("profile", "") || undefined;
const LAG_DIR = stringFlag("lag-probe", "") || undefined;
const SECRET = "bench-mesh-secret-0123456789abcdef";

const median = <T>(list: T[], key: (x: T) => number): T => [...list].sort((a, b) => key(a) - key(b))[Math.floor(list.length / 2)]!;

/** BUN_OPTIONS (and the probe's directory) for the agents: --profile, --lag-probe. */
function agentOptions(): Record<string, string> {
  const opts = [
    ...(PROFILE_DIR ? [`--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}`] : []),
    ...(LAG_DIR ? [`--preload ${new URL("./support/loop-lag-probe.ts", import.meta.url).pathname}`] : []),
  ];
  return { ...(opts.length ? { BUN_OPTIONS: opts.join(" ") } : {}), ...(LAG_DIR ? { CORRAL_LAG_PROBE_DIR: LAG_DIR } : {}) };
}

async function startBenchMesh(): Promise<{ a: CorralProcess; b: CorralProcess; leader: CorralProcess; token: string; management: string }> {
  const quiet = { CORRAL_NODE_LOG_LEVEL: "warn" };
  // Only what the mesh needs, as bench/invoke.ts does: a node's other plugins (the probe's sampling...) would be charged to the hop.
  const { leader, a, b, management } = await startMeshCluster({
    secret: SECRET, names: ["bench-a", "bench-b"], joinTimeoutMs: 20_000, env: quiet,
    prefix: `[plugins]\nenabled = ["discovery", "invoke", "authz"]\nwatch = false\n\n`,
    agentEnv: agentOptions(),
  });
  const ok = (r: { status: number; body: unknown }) => {
    if (r.status !== 200) throw new Error(`setup: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { SecretID: string };
  };
  ok(await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=bench", management, { Action: "allow" }));
  ok(await call(leader.url, "PUT", "/v1/acl/policy", management, { Name: "web-caller", Rules: `service "web" { policy = "write" }\nservice_prefix "" { policy = "read" }` }));
  const token = ok(await call(leader.url, "PUT", "/v1/acl/token", management, { Description: "web", Policies: [{ Name: "web-caller" }], ServiceIdentities: [{ ServiceName: "web" }] })).SecretID;
  return { a, b, leader, token, management };
}

const { a, b, leader, token, management } = await startBenchMesh();
let haproxy: HaproxyPair | undefined;
try {
  const backend = await startBackend("b0");
  await register(b, "bench", backend, { token: management });
  await waitPassing(leader, "bench", 1, 20_000, management);
  const portA = await proxyPort(a, management);
  // The first call makes web's leaf and B's view of the service: wait until one passes.
  await eventually(async () => (await getJson(`http://127.0.0.1:${portA}/`, { headers: { host: "bench", "x-consul-token": token } })).status === 200, 20_000);
  haproxy = await startHaproxyTlsPair(backend.port, "127.0.0.2", "127.0.0.3");

  const targets = {
    direct: { host: "127.0.0.1", port: backend.port, hostHeader: "b0", headers: {} as Record<string, string>, pids: [] as number[] },
    corral: { host: "127.0.0.1", port: portA, hostHeader: "bench", headers: { "x-consul-token": token }, pids: [a.child.pid!, b.child.pid!] },
    haproxy: { host: "127.0.0.2", port: haproxy.port, hostHeader: "bench", headers: {}, pids: haproxy.pids },
  };
  type Name = keyof typeof targets;
  const names = Object.keys(targets) as Name[];
  const loadedRuns = Object.fromEntries(names.map((n) => [n, [] as Loaded[]])) as Record<Name, Loaded[]>;
  const pacedRuns = Object.fromEntries(names.map((n) => [n, [] as PacedFigures[]])) as Record<Name, PacedFigures[]>;
  type Loaded = Figures & { cpuUsPerReqByProcess?: number[] };
  const wrkOf = (n: Name, c: number, s: number): Loaded => {
    const t = targets[n];
    const cpu0 = t.pids.map(cpuSeconds);
    const f: Loaded = wrk(`http://${t.host}:${t.port}/`, c, s, t.hostHeader, undefined, t.headers);
    if (t.pids.length && f.rps) {
      f.cpuUsPerReqByProcess = t.pids.map((pid, i) => Math.round(((cpuSeconds(pid) - cpu0[i]!) * 1e6) / (f.rps * s)));
      f.cpuUsPerReq = f.cpuUsPerReqByProcess.reduce((a, b) => a + b, 0);
    }
    return f;
  };
  // mTLS connections B accepted: a pool that works keeps this near the connection count, not the request count.
  const handshakesAtB = async () => {
    const metrics = (await getJson(`${b.url}/metrics`, { headers: { "x-consul-token": management } })).body as string;
    return (metrics.match(/^corral_invoke_mesh_handshakes_total\{[^}]*\} (\d+)/gm) ?? []).reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  };
  let handshakesWhilePaced = 0; // during corral's paced runs, whose p99 is reported (read between runs: a scrape is not timed)
  for (const n of names) wrkOf(n, CONNECTIONS, 1); // warm-up: connections, leaves, JIT
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of names) loadedRuns[n].push(wrkOf(n, CONNECTIONS, SECONDS));
    for (const n of names) {
      const h0 = n === "corral" ? await handshakesAtB() : 0;
      pacedRuns[n].push(await paced({ ...targets[n], rate: RATE, seconds: SECONDS, connections: 16 }));
      if (n === "corral") handshakesWhilePaced += (await handshakesAtB()) - h0;
    }
  }
  const loaded = Object.fromEntries(names.map((n) => [n, median(loadedRuns[n], (f) => f.rps)])) as Record<Name, Loaded>;
  const medianCpu = (n: Name) => median(loadedRuns[n], (f) => f.cpuUsPerReq ?? 0).cpuUsPerReq ?? 0;
  const atRate = Object.fromEntries(names.map((n) => [n, median(pacedRuns[n], (f) => f.p99Ms)])) as Record<Name, PacedFigures>;
  const corralOverHaproxyRps = round3(loaded.corral.rps / loaded.haproxy.rps);
  const corralAddedP99Ms = round3(atRate.corral.p99Ms - atRate.direct.p99Ms);
  console.log(JSON.stringify({
    bench: "invoke-mesh", acls: true, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, rate: RATE,
    loaded, paced: atRate, handshakesAtB: await handshakesAtB(), handshakesAtBWhilePaced: handshakesWhilePaced,
    ratios: {
      corralOverHaproxyRps,
      // CPU per request of the two proxy processes together (A + B), corral's over HAProxy's: what the hop costs.
      corralOverHaproxyCpuPerReq: round3(medianCpu("corral") / (medianCpu("haproxy") || 1)),
      corralAddedP99Ms,
      haproxyAddedP99Ms: round3(atRate.haproxy.p99Ms - atRate.direct.p99Ms),
      corralAddedP50Ms: round3(atRate.corral.p50Ms - atRate.direct.p50Ms),
      haproxyAddedP50Ms: round3(atRate.haproxy.p50Ms - atRate.direct.p50Ms),
    },
    perRound: {
      corralOverHaproxyRps: loadedRuns.corral.map((f, i) => round3(f.rps / loadedRuns.haproxy[i]!.rps)),
      corralCpuUsPerReqAB: loadedRuns.corral.map((f) => f.cpuUsPerReqByProcess),
      haproxyCpuUsPerReqAB: loadedRuns.haproxy.map((f) => f.cpuUsPerReqByProcess),
      corralAddedP99Ms: pacedRuns.corral.map((f, i) => round3(f.p99Ms - pacedRuns.direct[i]!.p99Ms)),
      haproxyAddedP99Ms: pacedRuns.haproxy.map((f, i) => round3(f.p99Ms - pacedRuns.direct[i]!.p99Ms)),
      directP99Ms: pacedRuns.direct.map((f) => f.p99Ms),
    },
    goal: "corralOverHaproxyRps >= 1.0 and corralAddedP99Ms <= 0.5",
    goalMet: { rps: corralOverHaproxyRps >= 1, addedP99: corralAddedP99Ms <= 0.5 },
  }));
} finally {
  haproxy?.stop();
  await killBackends();
  // SIGTERM first so --profile gets written.
  if (PROFILE_DIR) await Promise.all([a.kill("SIGTERM"), b.kill("SIGTERM")]);
  await killAll();
}
