// What one held blocking query costs a leader's JS heap (docs/scale.md,
// "Held queries and memory"): a real leader-role process with the heap hook
// (core/debug-heap.ts), one service, then N blocking queries held open (half
// on /v1/health/service/svc, half on /v1/catalog/services, plain, as the
// scale harness's watchers ask); the heap after a full collection before and
// while they are held, per query held (the leader's live Request objects
// beyond idle: connections still queued are not counted), with the object
// types that grew most.
// Unsigned from this process (the per-address held-query cap is raised for
// it); the scale harness's watchers are node-signed, which takes no slot.
//
//   npx bun bench/scale/held-heap.ts [--queries 2000]
// One JSON line. Compare two commits back to back; RSS is given beside, but
// the heap is the figure that does not depend on the allocator's mood.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { killAll, startCorral, tempDir } from "../../test/helpers/proc.ts";
import { numberFlag } from "../support/args.ts";

const N = numberFlag("queries", 2000);
const heapFile = join(tempDir("held-heap-"), "heap.json");

interface Dump {
  heapSize: number;
  objectCount: number;
  rss: number;
  objectTypeCounts: Record<string, number>;
}

const leader = await startCorral({
  role: "leader",
  config: `[cluster]\nsecret = "held-heap-secret-0123456789abcdef"\n\n[http]\nmax_blocking_per_address = ${N + 10}\nmax_blocking_per_token = ${N + 10}\n\n[plugins]\nenabled = ["discovery"]\nwatch = false\n`,
  env: { CORRAL_DEBUG_HEAP_FILE: heapFile, CORRAL_NODE_LOG_LEVEL: "warn" },
});

async function dump(): Promise<Dump> {
  const before = existsSync(heapFile) ? statSync(heapFile).mtimeMs : 0;
  leader.child.kill("SIGUSR2");
  for (let i = 0; i < 200; i++) {
    await Bun.sleep(100);
    if (existsSync(heapFile) && statSync(heapFile).mtimeMs !== before) return JSON.parse(readFileSync(heapFile, "utf8")) as Dump;
  }
  throw new Error("no heap dump from the leader");
}

const register = await fetch(`${leader.url}/v1/catalog/register`, {
  method: "PUT", headers: { "content-type": "application/json" },
  body: JSON.stringify({ Node: "n1", Address: "10.0.0.1", Service: { ID: "svc-1", Service: "svc", Port: 80 } }),
});
if (register.status !== 200) throw new Error(`register: ${register.status} ${await register.text()}`);
const index = (await fetch(`${leader.url}/v1/catalog/services`)).headers.get("x-consul-index");
// Warm: the routes, the answer cache, the first requests' allocations.
for (const path of ["/v1/health/service/svc", "/v1/catalog/services"]) await (await fetch(leader.url + path)).text();
await Bun.sleep(500);
const idle = await dump();

const stop = new AbortController();
/** Queries that came back (an answer or an error) before the dump: not held. */
let returned = 0;
// Opened in batches: 20,000 connections at once overflow the leader's accept queue.
for (let i = 0; i < N; i++) {
  const path = i % 2 ? "/v1/catalog/services" : "/v1/health/service/svc";
  void fetch(`${leader.url}${path}?index=${index}&wait=10m`, { signal: stop.signal }).then((r) => r.text(), () => "").finally(() => returned++);
  if (i % 500 === 499) await Bun.sleep(200);
}
// Held = the leader's live Request objects beyond idle (one per held query); dump until that settles,
// as the last connections may still wait in the accept queue.
const requests = (d: Dump) => (d.objectTypeCounts.Request ?? 0) - (idle.objectTypeCounts.Request ?? 0);
let holding = await dump();
for (let i = 0; i < 20; i++) {
  await Bun.sleep(3000);
  const next = await dump();
  const settled = requests(next) <= requests(holding) * 1.01;
  holding = next;
  if (settled && requests(holding) > 0) break;
}
const early = returned;
const H = Math.max(1, requests(holding));

const grew = Object.entries(holding.objectTypeCounts)
  .map(([type, n]) => [type, n - (idle.objectTypeCounts[type] ?? 0)] as const)
  .filter(([, d]) => d > 0)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 15)
  .map(([type, d]) => [type, Math.round((d / H) * 100) / 100]);
stop.abort();
console.log(JSON.stringify({
  bench: "held-heap", queries: N, held: H, returned_early: early,
  heap_bytes_per_query: Math.round((holding.heapSize - idle.heapSize) / H),
  objects_per_query: Math.round(((holding.objectCount - idle.objectCount) / H) * 10) / 10,
  rss_kb_per_query: Math.round((holding.rss - idle.rss) / 1024 / H),
  rss_mb_held: Math.round((holding.rss - idle.rss) / 1024 / 1024),
  heap_mb: { idle: Math.round(idle.heapSize / 1e5) / 10, holding: Math.round(holding.heapSize / 1e5) / 10 },
  objects_per_query_by_type: Object.fromEntries(grew),
}));
await killAll();
process.exit(0);
