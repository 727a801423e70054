// Heartbeat load on one leader: N simulated agents (default 5,000) join
// with fake fingerprints, then each heartbeats once a second through the
// signed POST /v1/cluster/heartbeat, spread evenly over the second (agent i
// fires at i/N of each second), with a live sample in every body, keep-alive
// connections and a bound on requests in flight. Measures, over the run, the
// leader process's CPU (utime+stime deltas from /proc/<pid>/stat, as % of
// one core) and RSS (VmRSS), the heartbeats per second answered, and the
// errors (non-200 answers, failures, and beats skipped because the in-flight
// bound was full). Prints one JSON line. Goal: ≤ 50% of one core.
//   npx bun bench/heartbeats.ts [--agents 5000] [--seconds 30] [--inflight 1024] [--profile DIR]
// --profile writes the leader's CPU profile (markdown) into DIR.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { signRequest, SIGNATURE_HEADER } from "../core/http/middleware/cluster-auth.ts";
import { killAll, startCorral } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";

const AGENTS = numberFlag("agents", 5000);
const SECONDS = numberFlag("seconds", 30);
const MAX_INFLIGHT = numberFlag("inflight", 1024);
const SECRET = "bench-heartbeat-secret-0123456789";
const TICK_MS = 10;
const PROFILE_DIR = stringFlag("profile", "") || undefined;

const leader = await startCorral({
  role: "leader",
  config: `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "30s"\n\n[raft]\nsync = "normal"\n\n[plugins]\nenabled = []\nwatch = false\n`,
  env: { CORRAL_NODE_LOG_LEVEL: "warn", ...(PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}` } : {}) },
});
const pid = leader.child.pid!;

function rssBytes(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
}

async function signedPost(path: string, body: unknown): Promise<Response> {
  const text = JSON.stringify(body);
  return fetch(leader.url + path, {
    method: "POST", body: text, keepalive: true,
    headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest({ secret: SECRET, node: "bench" }, "POST", path, text, { to: new URL(leader.url).host }) },
  });
}

const leaderHost = new URL(leader.url).host;
const ids = Array.from({ length: AGENTS }, () => randomUUID());
const join = (i: number) => ({
  id: ids[i], name: `sim-${i}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7700`, datacenter: "dc1", role: "agent",
  attributes: { "os.name": "linux", "cpu.arch": "amd64", "kernel.version": "6.1.0" },
  resources: { cpuMhz: 8000, cores: 4, memoryBytes: 16 * 2 ** 30, diskBytes: 2 ** 40 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
});

// Join everyone first (bounded concurrency), outside the measured window.
const joinStart = Date.now();
for (let next = 0; next < AGENTS; ) {
  const batch = [];
  for (let k = 0; k < 64 && next < AGENTS; k++, next++) batch.push(signedPost("/v1/cluster/join", join(next)).then((r) => r.arrayBuffer()));
  await Promise.all(batch);
}
const joinMs = Date.now() - joinStart;

// Bodies are made once per agent. Every heartbeat is signed when sent: the
// leader refuses a replayed signature (a nonce per request), so a signature
// cannot be reused; one HMAC per beat is a few µs of the generator's CPU.
const HB_PATH = "/v1/cluster/heartbeat";
const sample = { time: Date.now(), cpuPercent: 12.5, memoryUsedBytes: 4e9, memoryAvailableBytes: 12e9, load1: 0.5, load5: 0.4, load15: 0.3 };
const bodies = ids.map((id) => JSON.stringify({ id, sample }));

let ok = 0;
let errors = 0;
let skipped = 0;
let inflight = 0;
const beat = (i: number) => {
  if (inflight >= MAX_INFLIGHT) {
    skipped++;
    return;
  }
  inflight++;
  fetch(leader.url + HB_PATH, {
    method: "POST", body: bodies[i], keepalive: true,
    headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest({ secret: SECRET, node: ids[i]! }, "POST", HB_PATH, bodies[i]!, { to: leaderHost }) },
  })
    .then(async (r) => {
      await r.arrayBuffer();
      if (r.status === 200) ok++;
      else errors++;
    })
    .catch(() => errors++)
    .finally(() => inflight--);
};

// Agent i fires at (i / AGENTS) of each second; every tick sends the agents whose slot passed.
const t0 = performance.now();
const cpu0 = cpuSeconds(pid);
const self0 = process.cpuUsage();
let sent = 0;
let peakRss = rssBytes();
await new Promise<void>((done) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - t0;
    const due = Math.min(Math.floor((elapsed / 1000) * AGENTS), SECONDS * AGENTS);
    while (sent < due) beat(sent++ % AGENTS);
    peakRss = Math.max(peakRss, rssBytes());
    if (elapsed >= SECONDS * 1000) {
      clearInterval(timer);
      done();
    }
  }, TICK_MS);
});
const wallS = (performance.now() - t0) / 1000;
const cpuS = cpuSeconds(pid) - cpu0;
const self = process.cpuUsage(self0);
while (inflight > 0) await new Promise((r) => setTimeout(r, 10));
const rss = rssBytes();
if (PROFILE_DIR) await leader.kill("SIGTERM"); // a clean exit writes the profile
await killAll();

console.log(JSON.stringify({
  bench: "heartbeats", agents: AGENTS, seconds: SECONDS, join_ms: joinMs,
  heartbeats_per_s: Math.round(ok / wallS), errors: errors + skipped, skipped,
  leader_cpu_percent: Math.round((cpuS / wallS) * 1000) / 10,
  leader_rss_mb: Math.round(rss / 2 ** 20), leader_peak_rss_mb: Math.round(peakRss / 2 ** 20),
  load_generator_cpu_percent: Math.round(((self.user + self.system) / 1e6 / wallS) * 1000) / 10,
}));
