// Replicated writes and reads, corral beside etcd: three corral leader-role
// processes on loopback and, when Debian's etcd-server is installed, etcd in
// the same 3-process layout, under the same load at 1, 16, 64 and 256
// concurrent clients. Three workloads per level:
//   writes        100-byte values; both fsync their logs (corral raft.sync = "full")
//   reads         linearizable: corral `GET /v1/kv/<key>?consistent`, etcd's default get
//   stale         corral `?stale`, etcd's serializable get (member-local)
// corral is driven through its HTTP API, as its users drive it. etcd twice:
// through its native gRPC client (npm etcd3: how its users and its own
// benchmark tool reach it; `etcd_native`) and through its v3 JSON gateway
// (`etcd`, which etcd translates to gRPC inside its own process). Drivers:
// bench/support/etcd-clients.ts. Every request goes to the leader.
//
// Besides ops/s and latency, each level reports the CPU time (user + system,
// from /proc/<pid>/stat) the leader and the followers (mean of the two)
// spent per acknowledged operation, in µs, and the bench process's own
// (the client side: grpc-js or fetch); on a shared, noisy machine CPU per op
// is much steadier than throughput. All targets run at once and each level
// alternates between them; with --rounds N every figure is the median of N.
// Prints one JSON line: `corral`, `etcd_native`, `etcd` (writes per level,
// as before), `linearizable_reads` and `serializable_reads` (per target, per
// level), and `ratios[]` per level (corral ÷ etcd: ≥ 1 is better for
// throughput, ≤ 1 for p99 and CPU).
//   npx bun bench/raft.ts [--seconds 5] [--clients 1,16,64,256] [--workloads writes,reads,stale]
//   [--rounds 1] [--only corral|etcd] [--profile DIR]  (DIR: Bun CPU profiles of corral's nodes)
// --seconds is per level, workload and target: a run lasts about
// levels × workloads × 3 × seconds × rounds, plus start-up.
import { TestCluster } from "../test/helpers/cluster.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";
import { startEtcdCluster } from "./support/etcd.ts";
import { corralHttp, etcdGateway, etcdNative, type KvDriver, type Op } from "./support/etcd-clients.ts";
import { fsyncsOf } from "./support/fsyncs.ts";

const SECONDS = numberFlag("seconds", 5);
const CLIENT_COUNTS = stringFlag("clients", "1,16,64,256").split(",").map(Number);
const WORKLOADS = stringFlag("workloads", "writes,reads,stale").split(",") as Workload[];
const VALUE = "v".repeat(100);
const ONLY = stringFlag("only", "");
const ROUNDS = Math.max(1, numberFlag("rounds", 1));
const PROFILE_DIR = stringFlag("profile", "");

type Workload = "writes" | "reads" | "stale";
const KNOWN_WORKLOADS: readonly Workload[] = ["writes", "reads", "stale"];
for (const w of WORKLOADS) {
  if (!KNOWN_WORKLOADS.includes(w)) {
    console.error(`raft.ts: --workloads: unknown workload ${JSON.stringify(w)} (writes, reads, stale)`);
    process.exit(2);
  }
}
if (CLIENT_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error("raft.ts: --clients: expected positive integers, e.g. 1,16,64,256");
  process.exit(2);
}

/** One measured level, whatever the operation. */
interface Measured {
  clients: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  leader_cpu_us: number;
  follower_cpu_us: number;
  client_cpu_us: number;
  /** corral: fsyncs of the leader's and (mean) a follower's log per operation (group commit: fewer than one per write). */
  leader_fsyncs?: number;
  follower_fsyncs?: number;
}

/** utime + stime of a process, in µs. */
const cpuUs = (pid: number): number => cpuSeconds(pid) * 1e6;
/** The bench process's own CPU (its clients' share), in µs. */
const selfCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Runs a level and adds the CPU µs per op of the leader, (mean) of the followers and of this process. */
async function measured(clients: number, t: Target, op: Op): Promise<Measured> {
  const pids = [t.leaderPid, ...t.followerPids];
  const before = pids.map(cpuUs);
  const syncedBefore = await t.fsyncs?.();
  const selfBefore = selfCpuUs();
  const { ops, ...level } = await load(clients, op);
  const self = selfCpuUs() - selfBefore;
  const spent = pids.map((pid, i) => cpuUs(pid) - before[i]!);
  const perOp = (us: number) => Math.round(us / Math.max(1, ops));
  const followerMean = spent.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, t.followerPids.length);
  const out: Measured = { ...level, leader_cpu_us: perOp(spent[0]!), follower_cpu_us: perOp(followerMean), client_cpu_us: perOp(self) };
  if (t.fsyncs && syncedBefore) {
    const synced = (await t.fsyncs()).map((n, i) => n - syncedBefore[i]!);
    const per = (n: number) => Number((n / Math.max(1, ops)).toFixed(3));
    out.leader_fsyncs = per(synced[0]!);
    out.follower_fsyncs = per(synced.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, synced.length - 1));
  }
  return out;
}

async function load(clients: number, op: Op): Promise<Omit<Measured, "leader_cpu_us" | "follower_cpu_us" | "client_cpu_us"> & { ops: number }> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const a = performance.now();
        const ok = await op(n++).catch(() => false);
        if (ok) lat.push(performance.now() - a);
        else errors++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3));
  return { clients, ops_per_s: Math.round(lat.length / secs), p50_ms: q(0.5), p99_ms: q(0.99), errors, ops: lat.length };
}

/** A running 3-process cluster under test, reached one way: its operations, and whose CPU to count. */
interface Target {
  name: TargetName;
  driver: KvDriver;
  leaderPid: number;
  followerPids: number[];
  /** fsyncs so far of the leader, then each follower (corral only: corral_raft_fsyncs_total). */
  fsyncs?: () => Promise<number[]>;
}
type TargetName = "corral" | "etcd_native" | "etcd";

async function startCorral(): Promise<{ targets: Target[]; stop: () => Promise<void> }> {
  // Durable like etcd (fsync every commit), peers talking directly like etcd's.
  const env: Record<string, string> = PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` } : {};
  const c = new TestCluster({ size: 3, direct: true, sync: "full", env });
  await c.start();
  const leader = c.nodes[await c.waitLeader()]!;
  const target: Target = {
    name: "corral",
    driver: corralHttp(leader.url, VALUE),
    leaderPid: leader.proc!.child.pid!,
    followerPids: c.nodes.filter((n) => n !== leader).map((n) => n.proc!.child.pid!),
    fsyncs: () => Promise.all([leader, ...c.nodes.filter((n) => n !== leader)].map((n) => fsyncsOf(n.url))),
  };
  return {
    targets: [target],
    stop: async () => {
      // SIGTERM first so the profiles get written.
      if (PROFILE_DIR) await Promise.all(c.nodes.map((n) => n.proc?.kill("SIGTERM")));
      await c.stop();
    },
  };
}

/** One etcd cluster, reached both ways (two targets on the same processes). */
async function startEtcd(): Promise<{ targets: Target[]; stop: () => Promise<void> } | { skipped: string }> {
  const etcd = await startEtcdCluster("bench");
  if ("skipped" in etcd) return etcd;
  const { leaderUrl, procs, urls } = etcd;
  const leaderPid = procs[urls.indexOf(leaderUrl)]!.pid!;
  const followerPids = procs.filter((p) => p.pid !== leaderPid).map((p) => p.pid!);
  const native = etcdNative(leaderUrl, VALUE);
  return {
    targets: [
      { name: "etcd_native", driver: native, leaderPid, followerPids },
      { name: "etcd", driver: etcdGateway(leaderUrl, VALUE), leaderPid, followerPids },
    ],
    stop: async () => {
      native.close();
      await etcd.stop();
    },
  };
}

/** Each figure's median over the rounds (separately: the median run for throughput need not be the one for p99). */
function median(runs: Measured[]): Measured {
  const mid = <K extends keyof Measured>(k: K) => [...runs].sort((a, b) => (a[k] ?? 0) - (b[k] ?? 0))[Math.floor(runs.length / 2)]![k];
  return {
    clients: runs[0]!.clients, ops_per_s: mid("ops_per_s"), p50_ms: mid("p50_ms"), p99_ms: mid("p99_ms"),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    leader_cpu_us: mid("leader_cpu_us"), follower_cpu_us: mid("follower_cpu_us"), client_cpu_us: mid("client_cpu_us"),
    ...(runs[0]!.leader_fsyncs !== undefined ? { leader_fsyncs: mid("leader_fsyncs"), follower_fsyncs: mid("follower_fsyncs") } : {}),
  };
}

/** A level as printed: `writes_per_s`, `leader_cpu_us_per_write` … or the same per read. */
function printed(m: Measured, unit: "write" | "read"): Record<string, number> {
  return {
    clients: m.clients, [`${unit}s_per_s`]: m.ops_per_s, p50_ms: m.p50_ms, p99_ms: m.p99_ms, errors: m.errors,
    [`leader_cpu_us_per_${unit}`]: m.leader_cpu_us, [`follower_cpu_us_per_${unit}`]: m.follower_cpu_us,
    [`client_cpu_us_per_${unit}`]: m.client_cpu_us,
    ...(m.leader_fsyncs !== undefined ? { [`leader_fsyncs_per_${unit}`]: m.leader_fsyncs, [`follower_fsyncs_per_${unit}`]: m.follower_fsyncs! } : {}),
  };
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !b ? undefined : Number((a / b).toFixed(2));

/** corral ÷ etcd at level `i`, for each etcd target present and each workload measured. */
function ratiosAt(i: number, got: Map<TargetName, Map<Workload, Measured[]>>): Record<string, number | undefined> {
  const at = (t: TargetName, w: Workload) => got.get(t)?.get(w)?.[i];
  const out: Record<string, number | undefined> = { clients: CLIENT_COUNTS[i] };
  for (const [etcd, suffix] of [["etcd_native", "_vs_etcd_native"], ["etcd", "_vs_etcd"]] as const) {
    const w = (k: keyof Measured) => ratio(at("corral", "writes")?.[k], at(etcd, "writes")?.[k]);
    const lin = (k: keyof Measured) => ratio(at("corral", "reads")?.[k], at(etcd, "reads")?.[k]);
    const ser = (k: keyof Measured) => ratio(at("corral", "stale")?.[k], at(etcd, "stale")?.[k]);
    Object.assign(out, {
      [`throughput${suffix}`]: w("ops_per_s"),
      [`p99${suffix}`]: w("p99_ms"),
      [`leader_cpu${suffix}`]: w("leader_cpu_us"),
      [`follower_cpu${suffix}`]: w("follower_cpu_us"),
      [`linearizable_reads${suffix}`]: lin("ops_per_s"),
      [`linearizable_p99${suffix}`]: lin("p99_ms"),
      [`serializable_reads${suffix}`]: ser("ops_per_s"),
      [`serializable_p99${suffix}`]: ser("p99_ms"),
    });
  }
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** Writes every key the reads will ask for, so that no read finds nothing. */
async function seed(driver: KvDriver): Promise<void> {
  for (let base = 0; base < 1000; base += 50) {
    const ok = await Promise.all(Array.from({ length: 50 }, (_, j) => driver.write(base + j)));
    if (!ok.every(Boolean)) throw new Error("seeding the bench keys failed");
  }
}

const OPS: Record<Workload, (d: KvDriver) => Op> = { writes: (d) => d.write, reads: (d) => d.read, stale: (d) => d.staleRead };

// All targets run side by side and every level alternates between them,
// so a burst of load from elsewhere on a shared machine hits each alike.
const stops: (() => Promise<void>)[] = [];
const targets: Target[] = [];
const result: Record<string, unknown> = {
  bench: "raft", seconds_per_level: SECONDS, rounds: ROUNDS, value_bytes: 100, clients: CLIENT_COUNTS, workloads: WORKLOADS,
};
const got = new Map<TargetName, Map<Workload, Measured[]>>();
try {
  if (ONLY !== "etcd") {
    const c = await startCorral();
    stops.push(c.stop);
    targets.push(...c.targets);
  }
  if (ONLY !== "corral") {
    const etcd = await startEtcd();
    if ("skipped" in etcd) result.etcd = etcd;
    else {
      stops.push(etcd.stop);
      targets.push(...etcd.targets);
    }
  } else result.etcd = { skipped: "--only corral" };
  // One seeding per cluster (both etcd targets share one).
  for (const t of targets) if (t.name !== "etcd") await seed(t.driver);
  const runs = new Map(targets.map((t) => [t.name, new Map(WORKLOADS.map((w) => [w, CLIENT_COUNTS.map(() => [] as Measured[])]))]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, clients] of CLIENT_COUNTS.entries()) {
      for (const w of WORKLOADS) {
        for (const t of r % 2 ? [...targets].reverse() : targets) {
          runs.get(t.name)!.get(w)![i]!.push(await measured(clients, t, OPS[w](t.driver)));
        }
      }
    }
  }
  for (const [name, byWorkload] of runs) got.set(name, new Map([...byWorkload].map(([w, levels]) => [w, levels.map(median)])));
} finally {
  await Promise.all(stops.map((stop) => stop()));
}

for (const [name, byWorkload] of got) {
  const writes = byWorkload.get("writes");
  if (writes) result[name] = writes.map((m) => printed(m, "write"));
}
for (const [key, w] of [["linearizable_reads", "reads"], ["serializable_reads", "stale"]] as const) {
  const per: Record<string, unknown> = {};
  for (const [name, byWorkload] of got) {
    const levels = byWorkload.get(w);
    if (levels) per[name] = levels.map((m) => printed(m, "read"));
  }
  if (Object.keys(per).length > 0) result[key] = per;
}
if (got.has("corral") && got.size > 1) result.ratios = CLIENT_COUNTS.map((_, i) => ratiosAt(i, got));
console.log(JSON.stringify(result));
