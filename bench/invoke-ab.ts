// Before/after for the invoke proxy, in one run: two corral dev nodes — this
// checkout's and another tree's (--before DIR, e.g. a `git worktree add` of
// the old commit) — proxy to the same backends beside HAProxy, and wrk
// alternates between the three round by round, loaded (--connections) and
// unloaded (one connection). On a shared machine the load drifts between
// runs by more than any change is worth; alternating short rounds within one
// run puts both trees under the same drift, and the per-round pairs show
// whether a difference holds round after round or only in the medians.
//
//   npx bun bench/invoke-ab.ts --before DIR [--after DIR] [--rounds 8] [--seconds 3] [--connections 32]
//
// --after defaults to this checkout; naming both compares any two trees
// (a bisection between two commits).
//
// Prints one JSON line: per tree the medians of req/s, CPU µs per request
// (the steadiest figure), added p50 at one connection, their ratios to
// HAProxy, and `after_vs_before` with how many rounds after was better.
import { join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { killAll, ROOT, startCorral, type CorralProcess } from "../test/helpers/proc.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../test/invoke/helpers.ts";
import { numberFlag, stringFlag } from "./support/args.ts";
import { startHaproxy } from "./support/haproxy.ts";
import { round3, wrk, type Figures } from "./support/wrk.ts";

const BEFORE = stringFlag("before", "");
const AFTER = stringFlag("after", "");
const ROUNDS = numberFlag("rounds", 8);
const SECONDS = numberFlag("seconds", 3);
const CONNECTIONS = numberFlag("connections", 32);
for (const [flag, dir] of [["before", BEFORE], ["after", AFTER || ROOT]] as const) {
  if (!dir || !existsSync(join(dir, "core/main.ts"))) {
    console.error(`invoke-ab.ts: --${flag} DIR must name a corral checkout (with core/main.ts), e.g. \`git worktree add /tmp/before <commit>\``);
    process.exit(2);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function proxyNode(entry?: string): Promise<CorralProcess> {
  return startCorral({
    role: "dev",
    ...(entry ? { entry } : {}),
    config: `[plugins]\nenabled = ["discovery", "invoke"]\nwatch = false\n\n[plugins.invoke]\nport = 0\n`,
    env: { CORRAL_NODE_LOG_LEVEL: "warn" },
  });
}

type Side = "before" | "after" | "haproxy";
const sides: Side[] = ["before", "after", "haproxy"];

const nodes = { before: await proxyNode(resolve(BEFORE, "core/main.ts")), after: await proxyNode(AFTER ? resolve(AFTER, "core/main.ts") : undefined) };
let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
try {
  const backends = await Promise.all([startBackend("b0"), startBackend("b1")]);
  const targets = {} as Record<Side, { url: string; host?: string; pid: number }>;
  for (const side of ["before", "after"] as const) {
    const node = nodes[side];
    for (const b of backends) await register(node, "bench", b);
    await waitPassing(node, "bench", backends.length);
    targets[side] = { url: `http://127.0.0.1:${await proxyPort(node)}/`, host: "bench", pid: node.child.pid! };
  }
  haproxy = await startHaproxy(backends);
  targets.haproxy = { url: `http://127.0.0.1:${haproxy.port}/`, pid: haproxy.pid };
  const direct = `${backends[0]!.url}/`;

  for (const s of sides) wrk(targets[s].url, CONNECTIONS, 1, targets[s].host); // warm-up: connections, JIT
  const loaded: Record<Side, Figures[]> = { before: [], after: [], haproxy: [] };
  const unloaded: Record<Side | "direct", Figures[]> = { before: [], after: [], haproxy: [], direct: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Swap the order every round so neither tree always runs first.
    const order: Side[] = r % 2 ? ["after", "before", "haproxy"] : ["before", "after", "haproxy"];
    for (const s of order) loaded[s].push(wrk(targets[s].url, CONNECTIONS, SECONDS, targets[s].host, targets[s].pid));
    unloaded.direct.push(wrk(direct, 1, SECONDS));
    for (const s of order) unloaded[s].push(wrk(targets[s].url, 1, SECONDS, targets[s].host, targets[s].pid));
  }

  const perRound = (s: Side) => loaded[s].map((f, i) => ({
    rpsVsHaproxy: f.rps / loaded.haproxy[i]!.rps,
    cpuUsPerReq: f.cpuUsPerReq ?? 0,
    addedP50Ms: unloaded[s][i]!.p50Ms - unloaded.direct[i]!.p50Ms,
    p99VsHaproxy: f.p99Ms / loaded.haproxy[i]!.p99Ms,
  }));
  const rounds = { before: perRound("before"), after: perRound("after") };
  const summary = (s: "before" | "after") => ({
    rps: median(loaded[s].map((f) => f.rps)),
    rps_vs_haproxy: round3(median(rounds[s].map((x) => x.rpsVsHaproxy))),
    cpu_us_per_req: median(rounds[s].map((x) => x.cpuUsPerReq)),
    cpu_vs_haproxy: round3(median(loaded[s].map((f, i) => (f.cpuUsPerReq ?? 0) / (loaded.haproxy[i]!.cpuUsPerReq ?? 1)))),
    p99_vs_haproxy: round3(median(loaded[s].map((f, i) => f.p99Ms / loaded.haproxy[i]!.p99Ms))),
    unloaded_added_p50_ms: round3(median(rounds[s].map((x) => x.addedP50Ms))),
  });
  // A round counts for "after" when its figure is better than the same round's "before".
  const wins = (better: (a: (typeof rounds.after)[number], b: (typeof rounds.before)[number]) => boolean) =>
    rounds.after.filter((a, i) => better(a, rounds.before[i]!)).length;
  console.log(JSON.stringify({
    bench: "invoke-ab", before: resolve(BEFORE), after: AFTER ? resolve(AFTER) : "(this checkout)", rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS,
    before_tree: summary("before"), after_tree: summary("after"),
    haproxy: { rps: median(loaded.haproxy.map((f) => f.rps)), cpu_us_per_req: median(loaded.haproxy.map((f) => f.cpuUsPerReq ?? 0)) },
    after_vs_before: {
      rps_vs_haproxy: round3(summary("after").rps_vs_haproxy / summary("before").rps_vs_haproxy),
      cpu_us_per_req: round3(summary("after").cpu_us_per_req / summary("before").cpu_us_per_req),
      rounds_after_more_rps: wins((a, b) => a.rpsVsHaproxy > b.rpsVsHaproxy),
      rounds_after_less_cpu: wins((a, b) => a.cpuUsPerReq < b.cpuUsPerReq),
      rounds_after_less_added_p50: wins((a, b) => a.addedP50Ms < b.addedP50Ms),
      rounds_after_lower_p99: wins((a, b) => a.p99VsHaproxy < b.p99VsHaproxy),
    },
    per_round: { before: rounds.before.map(roundOf), after: rounds.after.map(roundOf) },
  }));
} finally {
  haproxy?.stop();
  await killBackends();
  await killAll();
}

function roundOf(x: { rpsVsHaproxy: number; cpuUsPerReq: number; addedP50Ms: number; p99VsHaproxy: number }) {
  return { rps_vs_haproxy: round3(x.rpsVsHaproxy), cpu_us_per_req: x.cpuUsPerReq, added_p50_ms: round3(x.addedP50Ms), p99_vs_haproxy: round3(x.p99VsHaproxy) };
}
