// Replicated write throughput and latency: three corral leader-role processes
// on loopback, 1, 16 and 64 concurrent clients writing 100-byte values to
// the leader's KV; and, when Debian's etcd-server is installed, etcd in the
// same 3-process layout under the same load (its v3 JSON gateway, also HTTP),
// and the ratios. Both fsync their logs (corral raft.sync = "full").
// Besides writes/s and latency, each level reports the CPU time (user +
// system, from /proc/<pid>/stat) the leader and the followers (mean of the
// two) spent per acknowledged write, in µs: on a shared, noisy machine it
// is much steadier than throughput. Both clusters run at once and each level
// alternates between them; with --rounds N every figure is the median of N.
// Prints one JSON line.   npx bun bench/raft.ts [--seconds 5] [--clients 1,16,64] [--rounds 1]
//   [--only corral|etcd] [--profile DIR]  (DIR: Bun CPU profiles of corral's nodes, .cpuprofile)
import { TestCluster } from "../test/helpers/cluster.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";
import { startEtcdCluster } from "./support/etcd.ts";
import { fsyncsOf } from "./support/fsyncs.ts";

const SECONDS = numberFlag("seconds", 5);
const CLIENT_COUNTS = stringFlag("clients", "1,16,64").split(",").map(Number);
const VALUE = "v".repeat(100);
const ONLY = stringFlag("only", "");
const ROUNDS = Math.max(1, numberFlag("rounds", 1));
const PROFILE_DIR = stringFlag("profile", "");

interface Level {
  clients: number;
  writes_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  leader_cpu_us_per_write?: number;
  follower_cpu_us_per_write?: number;
  /** corral: fsyncs of the leader's and (mean) a follower's log per acknowledged write. */
  leader_fsyncs_per_write?: number;
  follower_fsyncs_per_write?: number;
}

/** utime + stime of a process, in µs. */
const cpuUs = (pid: number): number => cpuSeconds(pid) * 1e6;

/** Runs a level and adds the CPU µs per write of the leader and (mean) of the followers. */
async function measured(clients: number, leader: number, followers: number[], write: (i: number) => Promise<boolean>, fsyncs?: () => Promise<number[]>): Promise<Level> {
  const before = [leader, ...followers].map(cpuUs);
  const syncedBefore = await fsyncs?.();
  const { writes, ...level } = await load(clients, write);
  const spent = [leader, ...followers].map((pid, i) => cpuUs(pid) - before[i]!);
  const perWrite = (us: number) => Math.round(us / Math.max(1, writes));
  const followerMean = spent.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, followers.length);
  const out: Level = { ...level, leader_cpu_us_per_write: perWrite(spent[0]!), follower_cpu_us_per_write: perWrite(followerMean) };
  if (fsyncs && syncedBefore) {
    const synced = (await fsyncs()).map((n, i) => n - syncedBefore[i]!);
    const per = (n: number) => Number((n / Math.max(1, writes)).toFixed(3));
    out.leader_fsyncs_per_write = per(synced[0]!);
    out.follower_fsyncs_per_write = per(synced.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, synced.length - 1));
  }
  return out;
}

async function load(clients: number, write: (i: number) => Promise<boolean>): Promise<Level & { writes: number }> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const a = performance.now();
        const ok = await write(n++).catch(() => false);
        if (ok) lat.push(performance.now() - a);
        else errors++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3));
  return { clients, writes_per_s: Math.round(lat.length / secs), p50_ms: q(0.5), p99_ms: q(0.99), errors, writes: lat.length };
}

/** A running 3-process cluster under test: how to write to its leader, and whose CPU to count. */
interface Target {
  write: (i: number) => Promise<boolean>;
  leaderPid: number;
  followerPids: number[];
  /** fsyncs so far of the leader, then each follower (corral only). */
  fsyncs?: () => Promise<number[]>;
  stop: () => Promise<void>;
}

async function startCorral(): Promise<Target> {
  // Durable like etcd (fsync every commit), peers talking directly like etcd's.
  const env: Record<string, string> = PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` } : {};
  const c = new TestCluster({ size: 3, direct: true, sync: "full", env });
  await c.start();
  const leader = c.nodes[await c.waitLeader()]!;
  return {
    write: async (i) => {
      const r = await fetch(`${leader.url}/v1/kv/bench/${i % 1000}`, { method: "PUT", body: VALUE });
      return r.ok && (await r.json()) === true;
    },
    leaderPid: leader.proc!.child.pid!,
    followerPids: c.nodes.filter((n) => n !== leader).map((n) => n.proc!.child.pid!),
    fsyncs: () => Promise.all([leader, ...c.nodes.filter((n) => n !== leader)].map((n) => fsyncsOf(n.url))),
    stop: async () => {
      // SIGTERM first so the profiles get written.
      if (PROFILE_DIR) await Promise.all(c.nodes.map((n) => n.proc?.kill("SIGTERM")));
      await c.stop();
    },
  };
}

async function startEtcd(): Promise<Target | { skipped: string }> {
  const etcd = await startEtcdCluster("bench");
  if ("skipped" in etcd) return etcd;
  const { leaderUrl, procs, urls, stop } = etcd;
  const value = Buffer.from(VALUE).toString("base64");
  const leaderPid = procs[urls.indexOf(leaderUrl)]!.pid!;
  return {
    write: async (i) => {
      const r = await fetch(leaderUrl + "/v3/kv/put", { method: "POST", body: JSON.stringify({ key: Buffer.from(`bench/${i % 1000}`).toString("base64"), value }) });
      await r.arrayBuffer();
      return r.ok;
    },
    leaderPid,
    followerPids: procs.filter((p) => p.pid !== leaderPid).map((p) => p.pid!),
    stop,
  };
}

/** Each figure's median over the rounds (separately: the median run for throughput need not be the one for p99). */
function median(runs: Level[]): Level {
  const mid = <K extends keyof Level>(k: K) => [...runs].sort((a, b) => (a[k] as number) - (b[k] as number))[Math.floor(runs.length / 2)]![k];
  return {
    clients: runs[0]!.clients, writes_per_s: mid("writes_per_s"), p50_ms: mid("p50_ms"), p99_ms: mid("p99_ms"),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    leader_cpu_us_per_write: mid("leader_cpu_us_per_write"), follower_cpu_us_per_write: mid("follower_cpu_us_per_write"),
    ...(runs[0]!.leader_fsyncs_per_write !== undefined ? { leader_fsyncs_per_write: mid("leader_fsyncs_per_write"), follower_fsyncs_per_write: mid("follower_fsyncs_per_write") } : {}),
  };
}

// Both clusters run side by side and every level alternates between them,
// so a burst of load from elsewhere on a shared machine hits both alike.
const targets: { name: "corral" | "etcd"; target: Target }[] = [];
const result: Record<string, unknown> = { bench: "raft", seconds_per_level: SECONDS, rounds: ROUNDS, value_bytes: 100 };
try {
  if (ONLY !== "etcd") targets.push({ name: "corral", target: await startCorral() });
  if (ONLY !== "corral") {
    const etcd = await startEtcd();
    if ("skipped" in etcd) result.etcd = etcd;
    else targets.push({ name: "etcd", target: etcd });
  } else result.etcd = { skipped: "--only corral" };
  const runs = new Map(targets.map((t) => [t.name, CLIENT_COUNTS.map(() => [] as Level[])]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, clients] of CLIENT_COUNTS.entries()) {
      for (const { name, target } of r % 2 ? [...targets].reverse() : targets) {
        runs.get(name)![i]!.push(await measured(clients, target.leaderPid, target.followerPids, target.write, target.fsyncs));
      }
    }
  }
  for (const [name, levels] of runs) result[name] = levels.map(median);
} finally {
  await Promise.all(targets.map((t) => t.target.stop()));
}
const corral = (result.corral ?? []) as Level[];
const etcd = result.etcd;
if (Array.isArray(etcd)) {
  result.ratios = corral.map((c, i) => ({
    clients: c.clients,
    throughput_vs_etcd: Number((c.writes_per_s / etcd[i]!.writes_per_s).toFixed(2)),
    p99_vs_etcd: Number((c.p99_ms / etcd[i]!.p99_ms).toFixed(2)),
    leader_cpu_vs_etcd: Number((c.leader_cpu_us_per_write! / etcd[i]!.leader_cpu_us_per_write!).toFixed(2)),
    follower_cpu_vs_etcd: Number((c.follower_cpu_us_per_write! / etcd[i]!.follower_cpu_us_per_write!).toFixed(2)),
  }));
}
console.log(JSON.stringify(result));
