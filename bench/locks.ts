// Lock cycles per second: acquire → write under the lock → release, at 1 and
// 16 contenders on one lock, on three corral leader-role processes (Consul
// sessions and ?acquire=/?release=; a contender that loses waits with a
// blocking read of the lock key) and, when Debian's etcd-server is
// installed, on three etcd processes through etcd's v3 lock API
// (/v3/lock/lock and /v3/lock/unlock over the JSON gateway, one lease per
// contender) in the same run. Both fsync their logs (raft.sync = "full").
//
// What each client models. corral's contender is Consul's lock recipe as a
// real client runs it (the loop of python-consul and node-consul users, and
// of Go's api.Lock once past its first read): PUT ?acquire=; when refused,
// blocking reads of the key (?index=<last X-Consul-Index>) until it shows no
// holder, then PUT ?acquire= again. Nothing is tuned: no polling interval,
// no back-off, no knowledge of the other contenders; every request is one a
// Consul client sends. It leaves out two things api.Lock adds, both of which
// would only add work on corral's side: the non-blocking read api.Lock makes
// before its first acquire of each Lock() call, and its monitor goroutine
// (blocking reads of the key while held). Each contender creates its session
// once (api.Lock's LockOptions.Session), with LockDelay 0 so that a level's
// leftovers never hold up the next one. etcd's contender is one call each
// way: etcd's lock service (server/etcdserver/api/v3lock) creates a key
// under the lock's prefix with the contender's lease and waits inside the
// server, watching the key created just before its own; no client polls.
// A cycle's latency runs from the first lock request to the release's
// answer. Levels alternate between the two clusters so load from elsewhere
// hits both alike. Prints one JSON line.
// Each level also charges the servers for their CPU (/proc, utime+stime):
// `leader_cpu_ms` per cycle for the leader (corral's Raft leader, etcd's
// leader member) and `cluster_cpu_ms` for all three, so a run on a shared
// machine can be compared by work done as well as by cycles/s.
// --profile DIR gives corral's nodes a Bun CPU profile (markdown) in DIR.
// corral is measured with two clients on the same cluster: `corral` is
// Consul's recipe as above, `corral_wait` corral's waiting acquire
// (`PUT ?acquire=<session>&wait=10s`, docs/coordination.md): the request
// waits on the leader, first come first served, and a release hands the key
// to the first waiter in its own log entry. That is the same shape as etcd's
// lock service, so `ratios_wait` compares like with like; `ratios` is what a
// Consul client gets. --recipes consul,wait picks them.
//   npx bun bench/locks.ts [--seconds 5] [--clients 1,16] [--rounds 1] [--only corral|etcd] [--recipes consul,wait] [--profile DIR]
import { TestCluster } from "../test/helpers/cluster.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { cpuSeconds } from "./support/cpu.ts";
import { startEtcdCluster } from "./support/etcd.ts";

const SECONDS = numberFlag("seconds", 5);
const CLIENT_COUNTS = stringFlag("clients", "1,16").split(",").map(Number);
const ONLY = stringFlag("only", "");
const ROUNDS = Math.max(1, numberFlag("rounds", 1));
const PROFILE_DIR = stringFlag("profile", "");
const RECIPES = stringFlag("recipes", "consul,wait").split(",");
const VALUE = "v".repeat(100);

interface Level {
  clients: number;
  cycles_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** Server CPU per cycle (ms): the leader's, and the three servers' together. */
  leader_cpu_ms: number;
  cluster_cpu_ms: number;
}

/** One contender: prepare (session or lease) once, then run cycles. */
interface Target {
  contender(id: number): Promise<() => Promise<boolean>>;
  /** A fresh lock for the next level, so one level's leftovers never slow the next. */
  newLock(): void;
  /** The server processes, the leader first (CPU accounting). */
  pids(): number[];
  stop(): Promise<void>;
}

async function level(clients: number, target: Target): Promise<Level> {
  const cycles = await Promise.all(Array.from({ length: clients }, (_, i) => target.contender(i)));
  const lat: number[] = [];
  let errors = 0;
  const pids = target.pids();
  const cpu0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(cycles.map(async (cycle) => {
    while (performance.now() < end) {
      const a = performance.now();
      const ok = await cycle().catch(() => false);
      if (ok) lat.push(performance.now() - a);
      else errors++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const spent = pids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
  const perCycle = (s: number) => Number(((s * 1000) / Math.max(1, lat.length)).toFixed(2));
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN).toFixed(3));
  return { clients, cycles_per_s: Math.round(lat.length / secs), p50_ms: q(0.5), p99_ms: q(0.99), errors,
    leader_cpu_ms: perCycle(spent[0] ?? 0), cluster_cpu_ms: perCycle(spent.reduce((a, b) => a + b, 0)) };
}

/** corral's two lock clients on one cluster: Consul's recipe, and the waiting acquire (?acquire=&wait=). */
async function startCorral(): Promise<{ recipe: Target; waiting: Target }> {
  const env: Record<string, string> = PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}` } : {};
  const c = new TestCluster({ size: 3, direct: true, sync: "full", env });
  // A node that does not come up in time (a loaded machine) must not leave the others running.
  await c.start().catch(async (err) => {
    await c.stop();
    throw err;
  });
  const leader = await c.waitLeader();
  const url = c.nodes[leader]!.url;
  const pid = (i: number) => c.nodes[i]!.proc!.child.pid!;
  let round = 0;
  const prepare = async (id: number) => {
    const r = await fetch(`${url}/v1/session/create`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Name: `bench-${id}`, LockDelay: "0s" }) });
    const session = ((await r.json()) as { ID: string }).ID;
    return { session, lock: `${url}/v1/kv/bench-lock/${round}/.lock`, data: `${url}/v1/kv/bench-data/${round}` };
  };
  const pids = () => [leader, ...[0, 1, 2].filter((i) => i !== leader)].map(pid);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // A profile is written on a clean exit only: SIGTERM first when one was asked for.
      if (PROFILE_DIR) await Promise.all([0, 1, 2].map((i) => c.kill(i, "SIGTERM")));
      await c.stop();
    })());
  // The waiting acquire: one request that answers true once the key is this session's
  // (a release hands it over in its own log entry), false only when the wait ends.
  /** A client of the lock: `take` returns once its session holds the key; then the write under the lock and the release. */
  const client = (take: (lock: string, session: string) => Promise<void>): Target => ({
    async contender(id) {
      const { session, lock, data } = await prepare(id);
      return async () => {
        await take(lock, session);
        const put = await fetch(data, { method: "PUT", body: VALUE });
        await put.arrayBuffer();
        const rel = await fetch(`${lock}?release=${session}`, { method: "PUT", body: "" });
        return put.ok && (await rel.json()) === true;
      };
    },
    newLock: () => void round++,
    pids,
    stop,
  });
  // The waiting acquire: one request that answers true once the key is this session's
  // (a release hands it over in its own log entry), false only when the wait ends.
  const waiting = client(async (lock, session) => {
    while ((await (await fetch(`${lock}?acquire=${session}&wait=10s`, { method: "PUT", body: "" })).json()) !== true);
  });
  // Consul's api.Lock: try; when held, wait with blocking reads until the key shows no holder, then try again.
  const recipe = client(async (lock, session) => {
    let index = 0;
    for (;;) {
      const got = await fetch(`${lock}?acquire=${session}`, { method: "PUT", body: "" });
      if ((await got.json()) === true) return;
      for (;;) {
        const w = await fetch(`${lock}?index=${index}&wait=5s`);
        index = Number(w.headers.get("x-consul-index") ?? 0);
        const pair = w.status === 200 ? ((await w.json()) as { Session?: string }[])[0] : (await w.arrayBuffer(), undefined);
        if (!pair?.Session) break;
      }
    }
  });
  return { recipe, waiting };
}

async function startEtcd(): Promise<Target | { skipped: string }> {
  const etcd = await startEtcdCluster("locks");
  if ("skipped" in etcd) return etcd;
  const { leaderUrl, stop, urls, procs } = etcd;
  const leaderAt = urls.indexOf(leaderUrl);
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const post = async (path: string, body: unknown) => {
    const r = await fetch(leaderUrl + path, { method: "POST", body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return (await r.json()) as Record<string, unknown>;
  };
  let round = 0;
  return {
    async contender() {
      const lease = (await post("/v3/lease/grant", { TTL: 60 })).ID as string;
      const name = b64(`bench-lock/${round}`);
      const data = b64(`bench-data/${round}`); // not under the lock prefix: etcd waits on every older key there
      return async () => {
        const locked = await post("/v3/lock/lock", { name, lease });
        await post("/v3/kv/put", { key: data, value: b64(VALUE) });
        await post("/v3/lock/unlock", { key: locked.key });
        return true;
      };
    },
    newLock: () => void round++,
    pids: () => [leaderAt, ...[0, 1, 2].filter((i) => i !== leaderAt)].map((i) => procs[i]!.pid!),
    stop,
  };
}

function median(runs: Level[]): Level {
  const mid = <K extends keyof Level>(k: K) => [...runs].sort((a, b) => (a[k] as number) - (b[k] as number))[Math.floor(runs.length / 2)]![k];
  return {
    clients: runs[0]!.clients, cycles_per_s: mid("cycles_per_s"), p50_ms: mid("p50_ms"), p99_ms: mid("p99_ms"), errors: runs.reduce((a, r) => a + r.errors, 0),
    leader_cpu_ms: mid("leader_cpu_ms"), cluster_cpu_ms: mid("cluster_cpu_ms"),
  };
}

const targets: { name: "corral" | "corral_wait" | "etcd"; target: Target }[] = [];
const result: Record<string, unknown> = { bench: "locks", seconds_per_level: SECONDS, rounds: ROUNDS, value_bytes: 100 };
try {
  if (ONLY !== "etcd") {
    const corral = await startCorral();
    if (RECIPES.includes("consul")) targets.push({ name: "corral", target: corral.recipe });
    if (RECIPES.includes("wait")) targets.push({ name: "corral_wait", target: corral.waiting });
    if (!RECIPES.includes("consul") && !RECIPES.includes("wait")) await corral.recipe.stop();
  }
  if (ONLY !== "corral") {
    const etcd = await startEtcd();
    if ("skipped" in etcd) result.etcd = etcd;
    else targets.push({ name: "etcd", target: etcd });
  } else result.etcd = { skipped: "--only corral" };
  const runs = new Map(targets.map((t) => [t.name, CLIENT_COUNTS.map(() => [] as Level[])]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, clients] of CLIENT_COUNTS.entries()) {
      for (const { name, target } of r % 2 ? [...targets].reverse() : targets) {
        target.newLock();
        runs.get(name)![i]!.push(await level(clients, target));
      }
    }
  }
  for (const [name, levels] of runs) result[name] = levels.map(median);
} finally {
  await Promise.all(targets.map((t) => t.target.stop()));
}
if (Array.isArray(result.etcd)) {
  const etcd = result.etcd as Level[];
  const ratios = (levels: Level[]) => levels.map((c, i) => ({
    clients: c.clients,
    cycles_vs_etcd: Number((c.cycles_per_s / etcd[i]!.cycles_per_s).toFixed(2)),
    p99_vs_etcd: Number((c.p99_ms / etcd[i]!.p99_ms).toFixed(2)),
    cluster_cpu_vs_etcd: Number((c.cluster_cpu_ms / etcd[i]!.cluster_cpu_ms).toFixed(2)),
  }));
  if (Array.isArray(result.corral)) result.ratios = ratios(result.corral as Level[]);
  if (Array.isArray(result.corral_wait)) result.ratios_wait = ratios(result.corral_wait as Level[]);
}
console.log(JSON.stringify(result));
