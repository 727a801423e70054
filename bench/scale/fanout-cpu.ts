// What one woken watcher costs a leader's CPU (docs/scale.md, "The cost per
// woken watcher"), without the scale harness's agents around it: a real
// leader-role process, one service of `--instances` instances, and N
// watchers in this process, each a watch loop as a client's (a plain
// blocking query; on its answer, the next one at the new index), half on
// /v1/health/service/svc, half on /v1/catalog/services. Each round registers
// one more instance (it moves both) and waits until every watcher has its
// next query on the way; the leader's CPU over the round divided by N (its
// own timers included: an upper bound). The median of the rounds.
//
//   BUN_CONFIG_MAX_HTTP_REQUESTS=20000 npx bun bench/scale/fanout-cpu.ts [--queries 2000 --instances 50 --rounds 7] [--paths health,catalog] [--profile DIR]
// (Bun's fetch keeps at most 256 requests in flight without the variable.)
// One JSON line. Compare two commits back to back on the same machine.
import { killAll, startCorral } from "../../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "../support/args.ts";
import { cpuSeconds } from "../support/cpu.ts";

const N = numberFlag("queries", 2000);
const INSTANCES = numberFlag("instances", 50);
const ROUNDS = numberFlag("rounds", 7);
/**
 * Which reads the watchers make, in turn: `health,catalog` (the default, half each), or one of them
 * alone to tell their costs apart (a health answer of 50 instances is ≈ 47 KB, the service list ≈ 40 B).
 */
const PATHS = stringFlag("paths", "health,catalog").split(",").map((p) => {
  if (p === "health") return "/v1/health/service/svc";
  if (p === "catalog") return "/v1/catalog/services";
  throw new Error(`--paths: health or catalog, not ${p}`);
});
/** The leader's CPU profile (markdown) into this directory: its life is mostly the rounds. */
const PROFILE_DIR = stringFlag("profile", "") || undefined;

const leader = await startCorral({
  role: "leader",
  config: `[cluster]\nsecret = "fanout-cpu-secret-0123456789abcdef"\n\n[http]\nmax_blocking_per_address = ${N + 10}\nmax_blocking_per_token = ${N + 10}\n\n[plugins]\nenabled = ["discovery"]\nwatch = false\n`,
  env: { CORRAL_NODE_LOG_LEVEL: "warn", ...(PROFILE_DIR ? { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${PROFILE_DIR}` } : {}) },
});
const pid = leader.child.pid!;

async function register(i: number): Promise<void> {
  const r = await fetch(`${leader.url}/v1/catalog/register`, {
    method: "PUT", headers: { "content-type": "application/json" },
    body: JSON.stringify({ Node: `n${i}`, Address: `10.0.${i >> 8}.${i & 255}`, Service: { ID: `svc-${i}`, Service: "svc", Tags: [`t${i}`], Port: 80 }, Check: { CheckID: `c-${i}`, Name: "c", ServiceID: `svc-${i}`, Status: "passing" } }),
  });
  if (r.status !== 200) throw new Error(`register: ${r.status} ${await r.text()}`);
  await r.text();
}
for (let i = 0; i < INSTANCES; i++) await register(i);

const stop = new AbortController();
/** Per round, how many watchers have sent their next query after seeing it. */
let round = 0;
const rearmed = new Map<number, number>();
let failures = 0;

async function watcher(path: string): Promise<void> {
  let index = Number((await fetch(leader.url + path)).headers.get("x-consul-index"));
  while (!stop.signal.aborted) {
    try {
      const res = await fetch(`${leader.url}${path}?index=${index}&wait=10m`, { signal: stop.signal });
      await res.text();
      const next = Number(res.headers.get("x-consul-index"));
      if (res.status !== 200) failures++;
      if (next !== index) rearmed.set(round, (rearmed.get(round) ?? 0) + 1);
      index = next;
    } catch {
      if (stop.signal.aborted) return;
      failures++;
      await Bun.sleep(250);
    }
  }
}
for (let i = 0; i < N; i++) void watcher(PATHS[i % PATHS.length]!);
await Bun.sleep(Math.max(3000, N * 2));

const perWatcherMs: number[] = [];
const wallMs: number[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  // The last round's next queries are all held (no agents: nothing else reaches the leader).
  await Bun.sleep(1000);
  round = r;
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await register(INSTANCES + r);
  while ((rearmed.get(r) ?? 0) < N && performance.now() - t0 < 60_000) await Bun.sleep(5);
  // The next queries are on their way: let the leader take them.
  await Bun.sleep(300);
  const wall = performance.now() - t0;
  // Not less an idle rate: on a loaded machine one sampled before the round is noise larger than
  // the figure. An upper bound (the leader's own timers are in it; without agents they cost little).
  const used = cpuSeconds(pid) - c0;
  perWatcherMs.push((used * 1000) / N);
  wallMs.push(wall - 300);
}
stop.abort();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({
  bench: "fanout-cpu", queries: N, instances: INSTANCES, rounds: ROUNDS, paths: PATHS, failures,
  leader_cpu_ms_per_woken_watcher: Math.round(median(perWatcherMs) * 1000) / 1000,
  all_rounds_ms_per_watcher: perWatcherMs.map((x) => Math.round(x * 1000) / 1000),
  fanout_ms_median: Math.round(median(wallMs)),
}));
// A clean exit writes the profile.
if (PROFILE_DIR) await leader.kill("SIGTERM");
await killAll();
process.exit(0);
