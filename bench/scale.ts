// The scale harness: thousands of simulated agents (bench/scale/sim-agent.ts,
// built from the real agent's parts) in a few processes against real
// leader-role processes. One JSON line per scenario, naming its goal figure
// beside the anchor's.
//
//   npx bun bench/scale.ts --scenario placement|catalog|heartbeats [--leaders 1|3]
//     placement:  --agents 5000 --jobs 1000 --count 100     (goal allocations_per_s ≥ 4,000; Nomad C1M 3,750/s)
//     catalog:    --agents 10000 --services 17 --watchers 10000 (goal fanout_p99_ms ≤ 1,000; Consul 172k instances < 1 s)
//     heartbeats: --agents 10000 --seconds 30               (goal leader_cpu_percent ≤ 50)
//     churn:      --agents 500 --seconds 600 [--gc 60]       (goal rss_drift_percent within ±10; database bounded; --gc S: GC thresholds of S s)
//   --hosts N   processes hosting the agents (default: one per 1,250 agents)
//   --timeout S give up after S seconds (default 600)
//   --profile DIR write each leader's CPU profile (markdown, Bun's --cpu-prof-md) into DIR
//   --profile-format json  the profile as Chrome's .cpuprofile instead (for bench/profile-stretches.ts)
//   --logs DIR  each leader's log (info level) into DIR/leader-<i>.log when the run ends
//   --election-timeout MS  the 3 leaders' leader.election_timeout (default 1000, corral's; Consul's default timing is 5000)
//   --heap DIR  churn: the first leader's heap by object type after a full GC, at each quarter of the run,
//               into DIR/heap-<second>.json (core/debug-heap.ts, CORRAL_DEBUG_HEAP_FILE + SIGUSR2)
// The sizes above are the defaults; test/scale/harness.test.ts runs small ones.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { killAll, startCorral, BUN, ROOT } from "../test/helpers/proc.ts";
import { TestCluster, CLUSTER_SECRET } from "../test/helpers/cluster.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";

const SCENARIO = stringFlag("scenario", "placement");
const LEADERS = numberFlag("leaders", 1);
const defaults: Record<string, number> = { placement: 5000, catalog: 10000, heartbeats: 10000, churn: 500 };
const AGENTS = numberFlag("agents", defaults[SCENARIO] ?? 1000);
const HOSTS = numberFlag("hosts", Math.max(1, Math.ceil(AGENTS / 1250)));
const TIMEOUT_S = numberFlag("timeout", 600);
const PROFILE_DIR = stringFlag("profile", "") || undefined;
const HEAP_DIR = stringFlag("heap", "") || undefined;
/** --profile-format json: Chrome's .cpuprofile (a timeline: bench/profile-stretches.ts finds the long busy stretches) instead of markdown. */
const PROFILE_JSON = stringFlag("profile-format", "md") === "json";
/**
 * --election-timeout MS (3 leaders): corral's default is etcd's 1 s. A leader whose timers wait
 * longer (event-loop turns of thousands of agents' requests: docs/scale.md, "Full size") loses its
 * followers; Consul's default timing (raft_multiplier 5) is 5 s.
 */
const ELECTION_TIMEOUT_MS = numberFlag("election-timeout", 1000);
/** --logs DIR: each leader-role process's log (at info) written to DIR/leader-<i>.log when the run ends. */
const LOGS_DIR = stringFlag("logs", "") || undefined;
/** Leaders' environment: a CPU profile when asked (written on a clean exit, so stop() sends SIGTERM first); the heap hook (core/debug-heap.ts) when asked. */
const LEADER_ENV: Record<string, string> = {
  CORRAL_NODE_LOG_LEVEL: LOGS_DIR ? "info" : "warn",
  ...(PROFILE_DIR ? { BUN_OPTIONS: `${PROFILE_JSON ? "--cpu-prof" : "--cpu-prof-md"} --cpu-prof-dir=${PROFILE_DIR}` } : {}),
  ...(HEAP_DIR ? { CORRAL_DEBUG_HEAP_FILE: join(HEAP_DIR, "heap-now.json") } : {}),
};
if (!(SCENARIO in defaults)) {
  console.error(`scale.ts: --scenario must be one of ${Object.keys(defaults).join(", ")}`);
  process.exit(2);
}

interface Leaders {
  urls: string[];
  pids: number[];
  dataDirs: string[];
  stop(): Promise<void>;
}

/** The leaders started, stopped on the way out even when a scenario fails (so a profile is still written). */
let started: Leaders | undefined;

/** Leader-role processes: one, or a cluster of three (fsync on, as in production). */
async function startLeaders(extra: string): Promise<Leaders> {
  started = await startLeadersOnce(extra);
  return started;
}

async function startLeadersOnce(extra: string): Promise<Leaders> {
  if (LEADERS <= 1) {
    const p = await startCorral({
      role: "leader",
      config: `[cluster]\nsecret = "${CLUSTER_SECRET}"\n\n${extra}\n[plugins]\nenabled = ["discovery"]\nwatch = false\n`,
      env: LEADER_ENV,
    });
    const stop = async () => {
      if (PROFILE_DIR) await p.kill("SIGTERM");
      keepLogs([p.output()]);
      await killAll();
    };
    return { urls: [p.url], pids: [p.child.pid!], dataDirs: [p.dataDir], stop };
  }
  const c = new TestCluster({ size: LEADERS, direct: true, sync: "full", electionTimeoutMs: ELECTION_TIMEOUT_MS, extra: `${extra}\n[plugins]\nenabled = ["discovery"]\nwatch = false\n`, env: LEADER_ENV });
  await c.start();
  const leader = await c.waitLeader(30_000);
  // The leader first: agents stick to the first address that answers.
  const order = [leader, ...c.nodes.map((n) => n.index).filter((i) => i !== leader)];
  return { urls: order.map((i) => c.nodes[i]!.url), pids: order.map((i) => c.nodes[i]!.proc!.child.pid!), dataDirs: order.map((i) => c.nodes[i]!.dataDir), stop: async () => {
    if (PROFILE_DIR) await Promise.all(c.nodes.map((n) => n.proc?.kill("SIGTERM")));
    keepLogs(order.map((i) => c.nodes[i]!.proc?.output() ?? ""));
    await c.stop();
  } };
}

/** The leaders' logs into --logs DIR, the first leader first (a stalled run's elections and refusals say why). */
function keepLogs(outputs: string[]): void {
  if (!LOGS_DIR) return;
  mkdirSync(LOGS_DIR, { recursive: true });
  outputs.forEach((text, i) => writeFileSync(join(LOGS_DIR, `leader-${i}.log`), text));
}

interface Host {
  child: ChildProcess;
  from: number;
  to: number;
  joined: number;
  /** Agents whose catalog sync has been applied. */
  synced: number;
  /** The heartbeat interval its first agent uses (the leader's, when longer than its own). */
  intervalMs: number;
  /** Its agents' and watchers' logged failures, by message and error code (a stalled run says why). */
  failed: Record<string, number>;
  /** Its agents' join attempts: sent, refused (429), timed out, failed otherwise (core/cluster/agent.ts JoinStats). */
  joins: JoinTally;
  send(msg: unknown): void;
}

type JoinTally = { attempts: number; refused: number; timedOut: number; failed: number };

type HostEvent = { t: "joined"; n: number; synced: number; intervalMs: number; failed?: Record<string, number>; joins?: JoinTally } | { t: "running"; r: [string, string, number][] } | { t: "woke"; r: [string, number, boolean][] } | { t: "ready" };

function startHosts(leaders: Leaders, o: { services: number; serviceNames: number; heartbeatMs: number; watchAllocs: boolean }, on: (h: Host, e: HostEvent) => void): Host[] {
  const ids = Array.from({ length: AGENTS }, () => randomUUID());
  const per = Math.ceil(AGENTS / HOSTS);
  const hosts: Host[] = [];
  for (let from = 0; from < AGENTS; from += per) {
    const to = Math.min(AGENTS, from + per);
    const settings = { from, to, ids: ids.slice(from, to), leaders: leaders.urls, secret: CLUSTER_SECRET, ...o };
    // Bun's fetch holds at most 256 requests in flight per process by default; every agent of a host
    // keeps one blocking query open, so past 256 agents their status reports and heartbeats queued
    // behind the held queries (nodes went down, nothing was reported running). A real agent is a
    // process of its own; the host lifts the limit to give each of its agents the same.
    const env = { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "65535" };
    const child = spawn(BUN, [join(ROOT, "bench/scale/sim-host.ts"), JSON.stringify(settings)], { stdio: ["pipe", "pipe", "inherit"], env });
    const h: Host = { child, from, to, joined: 0, synced: 0, intervalMs: 0, failed: {}, joins: { attempts: 0, refused: 0, timedOut: 0, failed: 0 }, send: (m) => child.stdin!.write(JSON.stringify(m) + "\n") };
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const e = JSON.parse(line) as HostEvent;
      if (e.t === "joined") [h.joined, h.synced, h.intervalMs, h.failed, h.joins] = [e.n, e.synced, e.intervalMs, e.failed ?? {}, e.joins ?? h.joins];
      on(h, e);
    });
    hosts.push(h);
  }
  return hosts;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The machine's 1-minute load average at the end of a run (the figures' context on a shared machine). */
function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

async function until(what: string, cond: () => boolean, deadline: number): Promise<void> {
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; agents' failures: ${JSON.stringify(agentFailures())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The lowest of `n` RSS samples 500 ms apart: the floor between collections, steadier than one sample. */
async function rssFloorMb(pid: number, n = 6): Promise<number> {
  let low = Infinity;
  for (let i = 0; i < n; i++) {
    low = Math.min(low, rssMb(pid));
    if (i < n - 1) await new Promise((r) => setTimeout(r, 500));
  }
  return low;
}

function rssMb(pid: number): number {
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
}

const deadline = Date.now() + TIMEOUT_S * 1000;
const hostsOf: Host[] = [];
/** Every host's failures summed by message: part of each result line, and of a timeout's error. */
function agentFailures(): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const h of hostsOf) for (const [k, n] of Object.entries(h.failed)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}
const allJoined = () => hostsOf.reduce((a, h) => a + h.joined, 0) === AGENTS;
/** Every host's join attempts summed. */
function joinTally(): JoinTally {
  const sum: JoinTally = { attempts: 0, refused: 0, timedOut: 0, failed: 0 };
  for (const h of hostsOf) for (const k of Object.keys(sum) as (keyof JoinTally)[]) sum[k] += h.joins[k];
  return sum;
}

/** Waits for every agent to join, sampling the leader's RSS meanwhile: its peak during the burst. */
async function joinWithPeakRss(pid: number): Promise<{ joinMs: number; peakRssMb: number }> {
  const start = Date.now();
  let peakRssMb = rssMb(pid);
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMb(pid))), 250);
  try {
    await until("agents to join", allJoined, deadline);
  } finally {
    clearInterval(sampler);
  }
  return { joinMs: Date.now() - start, peakRssMb: Math.max(peakRssMb, rssMb(pid)) };
}

async function placement(): Promise<Record<string, unknown>> {
  const JOBS = numberFlag("jobs", 1000);
  const COUNT = numberFlag("count", 100);
  const leaders = await startLeaders("");
  const registeredAt = new Map<string, number>();
  const latencies: number[] = [];
  let lastAck = 0;
  hostsOf.push(...startHosts(leaders, { services: 0, serviceNames: 1, heartbeatMs: 5_000, watchAllocs: true }, (_h, e) => {
    if (e.t !== "running") return;
    for (const [, job, at] of e.r) {
      latencies.push(at - registeredAt.get(job)!);
      lastAck = Math.max(lastAck, at);
    }
  }));
  const joinStart = Date.now();
  await until("agents to join", allJoined, deadline);
  const joinMs = Date.now() - joinStart;
  const cpu0 = leaders.pids.map(cpuSeconds);
  const t0 = Date.now();
  // Register every job, 16 requests in flight, as a deploy pipeline would.
  let next = 0;
  const submit = async () => {
    while (next < JOBS) {
      const id = `job-${next++}`;
      const body = JSON.stringify({
        id, type: "service", groups: [{ name: "g", count: COUNT, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 100, memory: 64 } }] }],
      });
      registeredAt.set(id, Date.now());
      const r = await fetch(`${leaders.urls[0]}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body });
      if (!r.ok) throw new Error(`registering ${id}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 16 }, submit));
  const registerMs = Date.now() - t0;
  const total = JOBS * COUNT;
  await until(`${total} allocations running (have ${latencies.length})`, () => latencies.length >= total, deadline);
  const wallS = (lastAck - t0) / 1000;
  const cpuUsed = leaders.pids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
  const cpu = cpuUsed.map((c) => Math.round((c / wallS) * 100));
  const rss = leaders.pids.map(rssMb);
  for (const h of hostsOf) h.send({ cmd: "stop" });
  await leaders.stop();
  return {
    bench: "scale", scenario: "placement", leaders: LEADERS, agents: AGENTS, jobs: JOBS, count: COUNT, allocations: total,
    allocations_per_s: Math.round(total / wallS), goal_allocations_per_s: 4000, anchor: "Nomad C1M: 3,750/s on 5 servers",
    register_to_running_p50_ms: quantile(latencies, 0.5), register_to_running_p99_ms: quantile(latencies, 0.99),
    join_ms: joinMs, register_ms: registerMs, wall_s: Math.round(wallS * 10) / 10, leader_cpu_percent: cpu, leader_rss_mb: rss,
    // Leader CPU per allocation: the figure that holds on a shared machine, where wall time is mostly waiting for a core.
    leader_cpu_us_per_allocation: cpuUsed.map((c) => Math.round((c * 1e6) / total)),
  };
}

async function catalog(): Promise<Record<string, unknown>> {
  const SERVICES = numberFlag("services", 17);
  const WATCHERS = numberFlag("watchers", 10000);
  const NAMES = numberFlag("service-names", 1000);
  const leaders = await startLeaders("");
  const rss0 = rssMb(leaders.pids[0]!);
  const woke: { kind: string; at: number; ok: boolean }[] = [];
  let sawChange = 0;
  let ready = 0;
  hostsOf.push(...startHosts(leaders, { services: SERVICES, serviceNames: NAMES, heartbeatMs: 10_000, watchAllocs: false }, (_h, e) => {
    if (e.t === "woke") for (const [kind, at, ok] of e.r) {
      woke.push({ kind, at, ok });
      if (ok) sawChange++;
    }
    if (e.t === "ready") ready++;
  }));
  await until("agents to join", allJoined, deadline);
  const instances = AGENTS * SERVICES;
  // Every agent's full sync applied: the catalog holds every instance.
  await until("every agent's catalog sync", () => hostsOf.reduce((a, h) => a + h.synced, 0) === AGENTS, deadline);
  const rssLoaded = await rssFloorMb(leaders.pids[0]!);
  // Half the watchers on one service's health, half on the service list, spread over the hosts.
  const each = Math.ceil(WATCHERS / hostsOf.length);
  for (const h of hostsOf) {
    h.send({ cmd: "watch", kind: "health", count: Math.floor(each / 2), service: "svc-0" });
    h.send({ cmd: "watch", kind: "catalog", count: each - Math.floor(each / 2) });
  }
  await until("watchers to hold their queries", () => ready >= hostsOf.length, deadline);
  await new Promise((r) => setTimeout(r, 2000));
  const rssHeld = await rssFloorMb(leaders.pids[0]!);
  // One change both kinds of watcher see: a new instance of svc-0 with a new tag
  // (a check turning critical moves /v1/health/service but, as in Consul, not /v1/catalog/services).
  const cpuBefore = cpuSeconds(leaders.pids[0]!);
  const hostsCpuBefore = hostsOf.map((h) => cpuSeconds(h.child.pid!));
  const t0 = Date.now();
  hostsOf[0]!.send({ cmd: "register", agent: 0, name: "svc-0", tag: "scale-change" });
  // Only a return that shows the change counts; one before it (another write moved the index) is counted apart.
  const seen = () => woke.filter((w) => w.ok);
  await until(`${WATCHERS} watchers to see the change (have ${sawChange})`, () => sawChange >= WATCHERS, Math.min(deadline, Date.now() + 60_000)).catch(() => undefined);
  const delays = seen().map((w) => w.at - t0);
  // CPU the fan-out cost (the write, every woken query answered, every watcher's next query taken),
  // from the change until the last watcher saw it: the figure that holds on a shared machine.
  const fanoutS = Math.max(0.001, (Math.max(t0, ...seen().map((w) => w.at)) - t0) / 1000);
  const leaderCpuS = cpuSeconds(leaders.pids[0]!) - cpuBefore;
  const hostsCpuS = hostsOf.reduce((a, h, i) => a + cpuSeconds(h.child.pid!) - hostsCpuBefore[i]!, 0);
  for (const h of hostsOf) h.send({ cmd: "stop" });
  await leaders.stop();
  return {
    bench: "scale", scenario: "catalog", leaders: LEADERS, agents: AGENTS, instances, watchers: WATCHERS, woke: woke.length,
    woke_with_change: seen().length, woke_without_change: woke.filter((w) => !w.ok).length,
    fanout_p50_ms: quantile(delays, 0.5), fanout_p99_ms: quantile(delays, 0.99), fanout_max_ms: Math.max(...delays),
    goal_fanout_p99_ms: 1000, anchor: "Consul: 172,000 instances on 10,000 nodes, an update everywhere in < 1 s",
    leader_rss_mb: { idle: rss0, registered: rssLoaded, watchers_held: rssHeld }, held_queries_rss_mb: rssHeld - rssLoaded, goal_held_queries_rss_mb: 200,
    leader_cpu_s_fanout: round2(leaderCpuS), leader_cpu_ms_per_watcher: round2((leaderCpuS * 1000) / Math.max(1, delays.length)),
    sim_hosts_cpu_percent_fanout: Math.round((hostsCpuS / fanoutS) * 100), load_average: loadAverage(),
  };

}

async function heartbeats(): Promise<Record<string, unknown>> {
  const SECONDS = numberFlag("seconds", 30);
  const leaders = await startLeaders("");
  hostsOf.push(...startHosts(leaders, { services: 0, serviceNames: 1, heartbeatMs: 1_000, watchAllocs: false }, () => undefined));
  const pid = leaders.pids[0]!;
  const { joinMs, peakRssMb } = await joinWithPeakRss(pid);
  // The tally as the last agent joined (the hosts report every 250 ms).
  await new Promise((r) => setTimeout(r, 300));
  const joins = joinTally();
  // Let the join burst settle, then measure steady heartbeating.
  await new Promise((r) => setTimeout(r, 5000));
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(pid) - c0;
  const cpu = Math.round((cpuS / wallS) * 1000) / 10;
  const intervalMs = Math.max(1, hostsOf[0]?.intervalMs ?? 1);
  const beats = (AGENTS * wallS * 1000) / intervalMs;
  const rss = rssMb(pid);
  for (const h of hostsOf) h.send({ cmd: "stop" });
  await leaders.stop();
  return {
    bench: "scale", scenario: "heartbeats", leaders: LEADERS, agents: AGENTS, seconds: SECONDS, join_ms: joinMs,
    // Join attempts beyond one per agent are retries: after a 429 (refused), a timeout, or another failure.
    join_attempts: joins.attempts, join_refused: joins.refused, join_timed_out: joins.timedOut, join_failed: joins.failed,
    leader_rss_peak_join_mb: peakRssMb,
    leader_cpu_percent: cpu, goal_leader_cpu_percent: 50, leader_rss_mb: rss,
    heartbeat_interval_ms: hostsOf[0]?.intervalMs, heartbeats_per_s: Math.round((AGENTS * 1000) / intervalMs),
    // Leader CPU per heartbeat (the agents' expected beats in the window): steadier than a percentage on a shared machine.
    leader_cpu_us_per_heartbeat: Math.round((cpuS * 1e6) / Math.max(1, beats)), load_average: loadAverage(),
  };
}

/** Bytes of the leader's data folder (database, WAL, snapshots). */
/** Asks a leader for its heap dump (SIGUSR2) and keeps it as DIR/heap-<second>.json. */
async function heapDump(pid: number, sec: number): Promise<void> {
  const now = join(HEAP_DIR!, "heap-now.json");
  rmSync(now, { force: true });
  process.kill(pid, "SIGUSR2");
  for (const end = Date.now() + 30_000; !existsSync(now) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  if (existsSync(now)) renameSync(now, join(HEAP_DIR!, `heap-${sec}.json`));
}

/** Second of the run -> the leader's JS heap after a full GC (MB), from the dumps heapDump() kept. */
function heapDumps(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(HEAP_DIR!)) {
    const m = /^heap-(\d+)\.json$/.exec(f);
    if (m) out[m[1]!] = Math.round((JSON.parse(readFileSync(join(HEAP_DIR!, f), "utf8")).heapSize / 2 ** 20) * 10) / 10;
  }
  return out;
}

function dataBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  }
  return n;
}

/**
 * A busy cluster's day, compressed: every second 5 jobs registered, 5 scaled,
 * 5 stopped and purged, 20 checks flapped; every 10 s a tenth of the nodes
 * replaced by new ones. RSS is sampled each second; drift compares the
 * lowest RSS (the floor after collections) of the last quarter with that of
 * the second quarter (after warm-up).
 */
async function churn(): Promise<Record<string, unknown>> {
  const SECONDS = numberFlag("seconds", 600);
  // --gc S: the day's garbage collection compressed too (terminal jobs, evaluations, deployments and
  // nodes down longer than S seconds are collected, every 10 s), so the run shows GC keeping up.
  const GC_S = numberFlag("gc", 0);
  const gc = GC_S > 0
    ? `[leader]\njob_gc_interval = "10s"\njob_gc_threshold = "${GC_S}s"\neval_gc_threshold = "${GC_S}s"\ndeployment_gc_threshold = "${GC_S}s"\nnode_gc_threshold = "${GC_S}s"\n`
    : "";
  const leaders = await startLeaders(gc);
  const url = leaders.urls[0]!;
  hostsOf.push(...startHosts(leaders, { services: 2, serviceNames: 50, heartbeatMs: 2_000, watchAllocs: true }, () => undefined));
  await until("agents to join", allJoined, deadline);
  const post = (path: string, body: unknown, method = "POST") =>
    fetch(url + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => {
      await r.arrayBuffer();
      if (!r.ok) errors++;
    }).catch(() => void errors++);
  const job = (id: string, count: number) => ({ id, type: "service", groups: [{ name: "g", count, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 50, memory: 32 } }] }] });
  let errors = 0;
  let next = 0;
  const rss: number[] = [];
  // The JS heap in use, from the leader's own /metrics: tells a growing heap (a leak) from an allocator or SQLite cache keeping pages.
  const heap: number[] = [];
  const heapMb = () => fetch(`${url}/v1/agent/metrics?format=prometheus`).then((r) => r.text()).then((t) => {
    const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(t);
    return m ? Math.round(Number(m[1]) / 2 ** 20) : NaN;
  }).catch(() => NaN);
  const db0 = dataBytes(leaders.dataDirs[0]!);
  const t0 = Date.now();
  for (let sec = 0; sec < SECONDS; sec++) {
    const tick = Date.now();
    const ops: Promise<void>[] = [];
    for (let k = 0; k < 5; k++) ops.push(post("/v1/jobs", job(`churn-${next + k}`, 3)));
    for (let k = 0; k < 5 && next - 10 + k >= 0; k++) ops.push(post("/v1/jobs", job(`churn-${next - 10 + k}`, 6)));
    for (let k = 0; k < 5 && next - 20 + k >= 0; k++) ops.push(post(`/v1/job/churn-${next - 20 + k}?purge=true`, undefined, "DELETE"));
    next += 5;
    for (let k = 0; k < 20; k++) {
      const agent = Math.floor(Math.random() * AGENTS);
      const h = hostsOf.find((x) => agent >= x.from && agent < x.to)!;
      h.send({ cmd: "check", agent, service: k % 2, status: Math.random() < 0.5 ? "critical" : "passing" });
    }
    if (sec % 10 === 9) {
      const pick = Array.from({ length: Math.ceil(AGENTS / 10) }, () => Math.floor(Math.random() * AGENTS));
      for (const h of hostsOf) h.send({ cmd: "replace", agents: pick.filter((i) => i >= h.from && i < h.to) });
    }
    await Promise.all(ops);
    rss.push(rssMb(leaders.pids[0]!));
    heap.push(await heapMb());
    if (HEAP_DIR && (sec + 1) % Math.max(1, Math.floor(SECONDS / 4)) === 0) await heapDump(leaders.pids[0]!, sec + 1);
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
  }
  const wallS = (Date.now() - t0) / 1000;
  const q = Math.floor(rss.length / 4);
  const floor = (xs: number[]) => Math.min(...xs);
  const early = floor(rss.slice(q, 2 * q));
  const late = floor(rss.slice(3 * q));
  const heapEarly = floor(heap.slice(q, 2 * q).filter(Number.isFinite));
  const heapLate = floor(heap.slice(3 * q).filter(Number.isFinite));
  const counts = await fetch(`${url}/v1/jobs`).then((r) => r.json() as Promise<unknown[]>).then((j) => j.length).catch(() => -1);
  const db1 = dataBytes(leaders.dataDirs[0]!);
  for (const h of hostsOf) h.send({ cmd: "stop" });
  await leaders.stop();
  return {
    bench: "scale", scenario: "churn", leaders: LEADERS, agents: AGENTS, seconds: Math.round(wallS), gc_threshold_s: GC_S || undefined, jobs_registered: next, jobs_left: counts, errors,
    rss_mb: { start: rss[0], second_quarter_floor: early, last_quarter_floor: late, max: Math.max(...rss) },
    rss_drift_percent: Math.round(((late - early) / early) * 1000) / 10, goal_rss_drift_percent: 10,
    heap_used_mb: { second_quarter_floor: heapEarly, last_quarter_floor: heapLate }, heap_drift_percent: Math.round(((heapLate - heapEarly) / heapEarly) * 1000) / 10,
    data_dir_mb: { start: Math.round(db0 / 2 ** 20), end: Math.round(db1 / 2 ** 20) },
    ...(HEAP_DIR ? { heap_after_gc_mb: heapDumps() } : {}),
  };
}

try {
  const run = { placement, catalog, heartbeats, churn }[SCENARIO as "placement"]!;
  const result = await run();
  console.log(JSON.stringify({ ...result, agent_failures: agentFailures() }));
} catch (err) {
  console.log(JSON.stringify({ bench: "scale", scenario: SCENARIO, error: (err as Error).message }));
  process.exitCode = 1;
} finally {
  for (const h of hostsOf) h.child.kill("SIGKILL");
  if (PROFILE_DIR || LOGS_DIR) await started?.stop();
  await killAll();
}
