// Two builds of corral's mesh hop under the same noise (docs/mesh.md, "The
// paced p99"): on a shared machine one stall of the whole machine sets a 3 s
// run's p99, so runs of two builds one after the other compare the machine's
// moments more than the builds. Here both builds run at once, each as
// bench/invoke-mesh.ts runs corral (a leader, agents A and B on 127.0.0.2
// and 127.0.0.3, ACLs on, the caller's token of service "web", the intention
// web => bench, the instance on B), and one paced generator drives both and
// the instance directly at the same instants, so whatever stalls the machine
// lands on all three alike.
//
// Each round: wrk at --connections on each build in turn (as the bench's
// loaded phase), a pause of --pause seconds (the bench's other targets run
// there: a pool that closes idle connections meets the paced run empty), then
// --rate req/s on direct, "base" and "head" at once for --seconds (plus a
// warm-up second). Prints one JSON line: each round's p99 and p50 for the
// three, what each build adds to direct's p99 in the same run, and the mTLS
// handshakes each build's B accepted during the paced runs.
//   npx bun bench/invoke-mesh-ab.ts --base DIR [--seconds 3] [--rounds 3] [--rate 1000] [--connections 32] [--pause 6] [--base-env K=V,..] [--head-env K=V,..]
// DIR: a checkout of the other build (e.g. `git worktree add --detach /tmp/base main`, with node_modules linked),
// or this one with --head-env to compare a runtime setting (e.g. BUN_GC_TIMER_DISABLE=1) under the same noise.
// Needs wrk and openssl.
import { resolve } from "node:path";
import { numberFlag, stringFlag } from "./support/args.ts";
import { paced, type PacedFigures } from "./support/paced.ts";
import { round3, wrk } from "./support/wrk.ts";

const BASE = stringFlag("base", "");
const SECONDS = numberFlag("seconds", 3);
const ROUNDS = numberFlag("rounds", 3);
const RATE = numberFlag("rate", 1000);
const CONNECTIONS = numberFlag("connections", 32);
const PAUSE = numberFlag("pause", 6);
/** Extra environment of each build's nodes: "K=V,K2=V2". */
const envOf = (flag: string): Record<string, string> =>
  Object.fromEntries(stringFlag(flag, "").split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const BASE_ENV = envOf("base-env");
const HEAD_ENV = envOf("head-env");
if (!BASE) {
  console.error("invoke-mesh-ab.ts: --base DIR is required (a checkout of the build to compare with)");
  process.exit(2);
}
const HEAD = resolve(new URL("..", import.meta.url).pathname);

interface Side {
  name: string;
  port: number;
  token: string;
  backendPort: number;
  handshakes(): Promise<number>;
  stop(): Promise<void>;
}

/** One build's cluster, set up as bench/invoke-mesh.ts sets up corral's, from that build's own test helpers (its binary). */
async function startSide(name: string, root: string, env: Record<string, string>): Promise<Side> {
  const proc = await import(`${root}/test/helpers/proc.ts`);
  const { call } = await import(`${root}/test/acl/helpers.ts`);
  const { startMeshCluster } = await import(`${root}/test/connect/mesh-cluster.ts`);
  const inv = await import(`${root}/test/invoke/helpers.ts`);
  const { leader, a, b, management } = await startMeshCluster({
    secret: `bench-ab-${name}-0123456789abcdef`, names: [`${name}-a`, `${name}-b`], joinTimeoutMs: 30_000, env: { CORRAL_NODE_LOG_LEVEL: "warn", ...env },
    prefix: `[plugins]\nenabled = ["discovery", "invoke", "authz"]\nwatch = false\n\n`,
  });
  const ok = (r: { status: number; body: unknown }) => {
    if (r.status !== 200) throw new Error(`${name} setup: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { SecretID: string };
  };
  ok(await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=bench", management, { Action: "allow" }));
  ok(await call(leader.url, "PUT", "/v1/acl/policy", management, { Name: "web-caller", Rules: `service "web" { policy = "write" }\nservice_prefix "" { policy = "read" }` }));
  const token = ok(await call(leader.url, "PUT", "/v1/acl/token", management, { Description: "web", Policies: [{ Name: "web-caller" }], ServiceIdentities: [{ ServiceName: "web" }] })).SecretID;
  const backend = await inv.startBackend(`${name}-b0`);
  await inv.register(b, "bench", backend, { token: management });
  await inv.waitPassing(leader, "bench", 1, 30_000, management);
  const port = await inv.proxyPort(a, management);
  await proc.eventually(async () => (await proc.getJson(`http://127.0.0.1:${port}/`, { headers: { host: "bench", "x-consul-token": token } })).status === 200, 30_000);
  return {
    name, port, token, backendPort: backend.port,
    async handshakes() {
      const text = (await proc.getJson(`${b.url}/metrics`, { headers: { "x-consul-token": management } })).body as string;
      return (text.match(/^corral_invoke_mesh_handshakes_total\{[^}]*\} (\d+)/gm) ?? []).reduce((n: number, l: string) => n + Number(l.split(" ").pop()), 0);
    },
    async stop() {
      await inv.killBackends();
      await proc.killAll();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const sides: Side[] = [];
try {
  sides.push(await startSide("base", resolve(BASE), BASE_ENV), await startSide("head", HEAD, HEAD_ENV));
  const [base, head] = sides as [Side, Side];
  const through = (s: Side) => ({ host: "127.0.0.1", port: s.port, hostHeader: "bench", headers: { "x-consul-token": s.token } });
  const direct = { host: "127.0.0.1", port: head.backendPort, hostHeader: "b0", headers: {} };
  for (const s of sides) wrk(`http://127.0.0.1:${s.port}/`, CONNECTIONS, 1, "bench", undefined, { "x-consul-token": s.token }); // warm-up
  const rounds: { direct: PacedFigures; base: PacedFigures; head: PacedFigures; handshakes: { base: number; head: number } }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // wrk on each build in turn, the order alternating by round.
    for (const s of r % 2 ? [head, base] : [base, head]) wrk(`http://127.0.0.1:${s.port}/`, CONNECTIONS, SECONDS, "bench", undefined, { "x-consul-token": s.token });
    await Bun.sleep(PAUSE * 1000);
    const h0 = [await base.handshakes(), await head.handshakes()];
    const o = { rate: RATE, seconds: SECONDS, connections: 16 };
    const [d, b, h] = await Promise.all([paced({ ...direct, ...o }), paced({ ...through(base), ...o }), paced({ ...through(head), ...o })]);
    rounds.push({ direct: d!, base: b!, head: h!, handshakes: { base: (await base.handshakes()) - h0[0]!, head: (await head.handshakes()) - h0[1]! } });
  }
  const added = (k: "base" | "head", q: "p99Ms" | "p50Ms") => rounds.map((x) => round3(x[k][q] - x.direct[q]));
  console.log(JSON.stringify({
    bench: "invoke-mesh-ab", base: resolve(BASE), head: HEAD, baseEnv: BASE_ENV, headEnv: HEAD_ENV, seconds: SECONDS, rounds: ROUNDS, rate: RATE, pause: PAUSE,
    addedP99Ms: { base: median(added("base", "p99Ms")), head: median(added("head", "p99Ms")) },
    addedP50Ms: { base: median(added("base", "p50Ms")), head: median(added("head", "p50Ms")) },
    perRound: {
      directP99Ms: rounds.map((x) => x.direct.p99Ms),
      addedP99Ms: { base: added("base", "p99Ms"), head: added("head", "p99Ms") },
      headOverBaseP99: rounds.map((x) => round3(x.head.p99Ms / x.base.p99Ms)),
      handshakesAtBWhilePaced: rounds.map((x) => x.handshakes),
      errors: rounds.map((x) => ({ base: x.base.errors + x.base.unanswered, head: x.head.errors + x.head.unanswered })),
    },
  }));
} finally {
  for (const s of sides) await s.stop();
}
