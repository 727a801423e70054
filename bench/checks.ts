// Health checks at scale on ONE node: an agent (joined to a leader process;
// --role dev: a single dev process instead) runs 10,000 HTTP checks at a
// 10 s interval (1,000 probes a second) against a separate Bun.serve
// process. The checks are registered through the agent API (1,000 services
// of 10 checks; plugins.discovery.max_checks_per_node raised to 10,000, and
// the leader's http.max_body_bytes to 32 MiB for the agent's full sync).
// After every check passes and a warm-up, it measures for --seconds (30):
// probes/s achieved (the node's corral_health_probes_total and the target's own
// count), the node's CPU % of one core (utime+stime from /proc/<pid>/stat),
// its RSS (VmRSS), how far behind schedule probes start, and the Raft
// commit index (it must not move: only status changes go through the log).
// Goal: <= 25 % of one core, <= 150 MB RSS. Prints one JSON line.
//   npx bun bench/checks.ts [--role agent|dev] [--seconds 30] [--checks 10000] [--interval 10]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { BUN, startCorral, killAll, getJson, sleep, freePort, type CorralProcess } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { clockTicks, cpuTicks } from "./support/cpu.ts";

const SECONDS = numberFlag("seconds", 30);
const CHECKS = numberFlag("checks", 10_000);
const INTERVAL_S = numberFlag("interval", 10);
const PER_SERVICE = 10;
const WARMUP_S = numberFlag("warmup", 10);
const ROLE = stringFlag("role", "agent");

const TARGET = `
let n = 0;
const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch(req) {
  if (new URL(req.url).pathname === "/__count") return new Response(String(n));
  n++;
  return new Response("ok");
} });
console.log(s.port);
`;

async function startTarget(): Promise<{ port: number; stop(): void }> {
  const child = spawn(BUN, ["-e", TARGET], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => child.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
  return { port, stop: () => void child.kill("SIGKILL") };
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(base + "/metrics")).text();
  const m = new RegExp(`^${name} ([\\d.e+]+)`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

async function register(base: string, targetPort: number) {
  const t0 = performance.now();
  for (let s = 0; s < CHECKS / PER_SERVICE; s++) {
    const checks = Array.from({ length: PER_SERVICE }, (_, i) => ({ HTTP: `http://127.0.0.1:${targetPort}/s${s}/c${i}`, Interval: `${INTERVAL_S}s` }));
    const r = await fetch(`${base}/v1/agent/service/register`, { method: "PUT", body: JSON.stringify({ Name: `bench-${s}`, Port: targetPort, Checks: checks }), headers: { "content-type": "application/json" } });
    if (r.status !== 200) throw new Error(`register: ${r.status} ${await r.text()}`);
  }
  return (performance.now() - t0) / 1000;
}

/** Until no bench check is critical (polling the small critical list: the passing one would be a 5 MB answer the node caches). */
async function waitPassing(base: string): Promise<number> {
  const t0 = performance.now();
  await sleep(1_000);
  for (;;) {
    const list = (await getJson<{ ServiceName: string }[]>(`${base}/v1/health/state/critical`)).body;
    const left = list.filter((c) => c.ServiceName.startsWith("bench-")).length;
    if (left === 0) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 600_000) throw new Error(`${left} of ${CHECKS} checks still critical after 10 min`);
    await sleep(1_000);
  }
}

/** The node that runs the checks, and the leader whose log is watched (the same process with --role dev). */
async function startNodes(): Promise<{ node: CorralProcess; leader: CorralProcess }> {
  const limits = `[plugins.discovery]\nmax_services_per_node = ${Math.max(1000, CHECKS / PER_SERVICE)}\nmax_checks_per_node = ${Math.max(2000, CHECKS)}\n`;
  if (ROLE === "dev") {
    const node = await startCorral({ role: "dev", config: limits });
    return { node, leader: node };
  }
  const secret = "bench-checks-secret-0123456789";
  const port = await freePort();
  const leader = await startCorral({ role: "leader", port, config: `[cluster]\nsecret = "${secret}"\n\n[http]\nmax_body_bytes = "32MiB"\n` });
  const node = await startCorral({ role: "agent", config: `[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${port}"]\n\n${limits}` });
  return { node, leader };
}

const target = await startTarget();
const { node, leader } = await startNodes();
try {
  const pid = node.child.pid!;
  const idleRss = rssMb(pid);
  const registerS = await register(node.url, target.port);
  const passingS = await waitPassing(node.url);
  await sleep(WARMUP_S * 1000);

  const count = async () => Number(await (await fetch(`http://127.0.0.1:${target.port}/__count`)).text());
  const commit = async () => Number((await getJson(`${leader.url}/v1/operator/raft`)).body.commitIndex);
  const delay = () => metric(node.url, "corral_health_probe_delay_seconds_total");
  const before = { t: performance.now(), cpu: cpuTicks(pid), probes: await metric(node.url, "corral_health_probes_total"), hits: await count(), index: await commit(), delay: await delay() };
  // Only /proc is read during the window: requests to the node (a 10,000-check answer, a scrape) would be measured too.
  const rss: number[] = [];
  for (let i = 0; i < SECONDS; i++) {
    await sleep(1000);
    rss.push(rssMb(pid));
  }
  const cpuEnd = { t: performance.now(), cpu: cpuTicks(pid) };
  const after = { t: performance.now(), cpu: cpuTicks(pid), probes: await metric(node.url, "corral_health_probes_total"), hits: await count(), index: await commit(), delay: await delay() };
  const secs = (after.t - before.t) / 1000;
  const cpuSecs = (cpuEnd.t - before.t) / 1000;
  rss.sort((a, b) => a - b);
  console.log(JSON.stringify({
    bench: "checks",
    runtime: `bun ${Bun.version}`,
    role: ROLE,
    checks: CHECKS,
    interval_s: INTERVAL_S,
    expected_per_s: CHECKS / INTERVAL_S,
    probes_per_s: Math.round((after.probes - before.probes) / secs),
    target_hits_per_s: Math.round((after.hits - before.hits) / secs),
    cpu_percent: Number(((100 * (cpuEnd.cpu - before.cpu)) / clockTicks() / cpuSecs).toFixed(1)),
    rss_mb: rss[Math.floor(rss.length / 2)],
    rss_max_mb: rss[rss.length - 1],
    rss_idle_mb: idleRss,
    start_delay_ms_avg: Number(((1000 * (after.delay - before.delay)) / Math.max(1, after.probes - before.probes)).toFixed(2)),
    log_entries_during: after.index - before.index,
    register_s: Number(registerS.toFixed(1)),
    all_passing_after_s: Number(passingS.toFixed(1)),
    measured_s: Number(secs.toFixed(1)),
  }));
} finally {
  target.stop();
  await killAll();
}
