// Service discovery under load, on one real dev process:
//  1. 1,000 instances of one service across 50 nodes (each with a passing
//     check); `GET /v1/health/service/web?passing` driven by wrk (autocannon-
//     style fetch loop when wrk is absent) beside a bare Bun.serve returning
//     the same bytes (the ceiling): req/s, p99 and the ratio.
//  2. 1,000 open blocking queries on that endpoint: the time from one change
//     until every one of them has answered.
// Prints one JSON line.   npx bun bench/discovery.ts [--seconds 5] [--connections 32]
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { startCorral, killAll, signedPost, devSecretOf, freePort, tempDir } from "../test/helpers/proc.ts";
import { numberFlag } from "./support/args.ts";

const SECONDS = numberFlag("seconds", 5);
const CONNECTIONS = numberFlag("connections", 32);
const NODES = 50;
const INSTANCES = 1000;
const WATCHERS = 1000;

interface Load {
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  tool: string;
}

/** wrk with --latency, parsed; the percentiles come from its latency distribution. */
function wrk(url: string): Load | undefined {
  if (spawnSync("wrk", ["--version"]).error) return undefined;
  const r = spawnSync("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", url], { encoding: "utf8" });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1];
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(r.stdout);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  return { req_per_s: Math.round(Number(rps)), p50_ms: pct("50"), p99_ms: pct("99"), tool: "wrk" };
}

async function fetchLoad(url: string): Promise<Load> {
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const a = performance.now();
      await (await fetch(url)).arrayBuffer();
      lat.push(performance.now() - a);
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.floor(lat.length * p)]!.toFixed(3));
  return { req_per_s: Math.round(lat.length / ((performance.now() - t0) / 1000)), p50_ms: q(0.5), p99_ms: q(0.99), tool: "fetch" };
}

const measure = async (url: string) => wrk(url) ?? (await fetchLoad(url));

/** Blocks WATCHERS requests on `watchUrl`'s current index, calls `change`, times until all answered. */
async function fanout(watchUrl: string, change: () => Promise<void>) {
  const first = await fetch(watchUrl);
  await first.arrayBuffer();
  const index = first.headers.get("x-consul-index")!;
  const sep = watchUrl.includes("?") ? "&" : "?";
  const done: number[] = [];
  const answers = Array.from({ length: WATCHERS }, () =>
    fetch(`${watchUrl}${sep}index=${index}&wait=60s`).then(async (r) => {
      await r.arrayBuffer();
      done.push(performance.now());
      return r.headers.get("x-consul-index");
    }),
  );
  await Bun.sleep(1500); // every request reaches the server and blocks
  const changedAt = performance.now();
  await change();
  const indexes = await Promise.all(answers);
  return {
    answered_with_new_index: indexes.filter((i) => Number(i) > Number(index)).length,
    all_answered_ms: Number((Math.max(...done) - changedAt).toFixed(1)),
    median_ms: Number(([...done].sort((a, b) => a - b)[done.length >> 1]! - changedAt).toFixed(1)),
  };
}

// Bun's fetch sends at most 256 requests at once per process unless told
// otherwise; 1,000 watchers need 1,000 open requests.
if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  const r = spawnSync(process.execPath, [import.meta.path, ...process.argv.slice(2)], { stdio: "inherit", env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" } });
  process.exit(r.status ?? 1);
}

const node = await startCorral({ role: "dev", args: ["--log-level", "warn"] });
const secret = devSecretOf(node.dataDir);
try {
  // 50 nodes × 20 instances, through the signed propose RPC an agent would use.
  for (let n = 0; n < NODES; n++) {
    const ref = { id: randomUUID(), name: `bench-node-${n}`, address: `10.0.${n >> 8}.${n & 255}`, datacenter: "dc1" };
    await Promise.all(Array.from({ length: INSTANCES / NODES }, async (_, i) => {
      const sid = `web-${n}-${i}`;
      const r = await signedPost(node.url, "/v1/cluster/propose", secret, {
        type: "RegisterService", v: 1, at: Date.now(), node: ref,
        service: { id: sid, name: "web", tags: ["v1"], address: "", port: 20000 + i, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false },
        checks: [{ id: `service:${sid}`, name: "alive", status: "passing", notes: "", output: "", serviceId: sid, type: "ttl", definition: { TTL: "1h" } }],
      });
      if (r.status !== 200) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
    }));
  }
  const url = `${node.url}/v1/health/service/web?passing`;
  const first = await fetch(url);
  const bytes = new Uint8Array(await first.arrayBuffer());
  const index = first.headers.get("x-consul-index")!;
  const count = (JSON.parse(new TextDecoder().decode(bytes)) as unknown[]).length;
  if (count !== INSTANCES) throw new Error(`expected ${INSTANCES} instances, got ${count}`);

  const corral = await measure(url);
  // The ceiling: a bare Bun.serve in its own process (as corral is) sending the same bytes.
  const bodyFile = join(tempDir("corral-bench-"), "body.json");
  writeFileSync(bodyFile, bytes);
  const ceilingPort = await freePort();
  const ceilingProc = spawn(process.execPath, ["-e", `
    const body = require("fs").readFileSync(${JSON.stringify(bodyFile)});
    Bun.serve({ hostname: "127.0.0.1", port: ${ceilingPort}, fetch: () => new Response(body, { headers: { "content-type": "application/json", "x-consul-index": "${index}" } }) });
  `], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) if (await fetch(`http://127.0.0.1:${ceilingPort}/`).then(() => true, () => false)) break; else await Bun.sleep(50);
  const ceiling = await measure(`http://127.0.0.1:${ceilingPort}/v1/health/service/web?passing`);
  ceilingProc.kill();

  // Fan-out: 1,000 watchers blocked on a query's current index; one check changes.
  const list = JSON.parse(new TextDecoder().decode(bytes)) as { Node: { ID: string }; Checks: { CheckID: string }[] }[];
  const flip = async (i: number, status: "passing" | "critical") => {
    const check = list[i]!.Checks.find((c) => c.CheckID.startsWith("service:"))!;
    await signedPost(node.url, "/v1/cluster/propose", secret, {
      type: "UpdateCheckStatus", v: 1, at: Date.now(), nodeId: list[i]!.Node.ID, checkId: check.CheckID, status, output: status,
    });
  };
  const small = await fanout(`${node.url}/v1/catalog/services`, async () => {
    await signedPost(node.url, "/v1/cluster/propose", secret, {
      type: "RegisterService", v: 1, at: Date.now(), node: { id: list[0]!.Node.ID, name: "bench-node-0", address: "10.0.0.0", datacenter: "dc1" },
      service: { id: "new-svc", name: "new-svc", tags: [], address: "", port: 1, meta: {}, weights: { passing: 1, warning: 1 }, taggedAddresses: {}, enableTagOverride: false },
      checks: [],
    });
  });
  const large = await fanout(url, () => flip(2, "critical"));
  console.log(JSON.stringify({
    bench: "discovery", instances: INSTANCES, nodes: NODES, response_bytes: bytes.length, connections: CONNECTIONS, seconds: SECONDS,
    corral, ceiling, ratio_to_ceiling: Number((corral.req_per_s / ceiling.req_per_s).toFixed(3)),
    watchers: WATCHERS,
    fanout_small: small, // /v1/catalog/services (Prometheus's watch): a small answer, a service added
    fanout_1mb: large, // /v1/health/service/web?passing: ~1 MB to each of 1,000 watchers, 1 GB in all
  }));
} finally {
  await killAll();
}
