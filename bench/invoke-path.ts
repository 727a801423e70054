// The invoke listener's per-request work in JavaScript alone: corral's
// raw-socket exchange path (head parse, routing, the call loop with
// balancer, breaker and budget, trace ids, the attempt, the answer's head,
// forwarding, metrics) driven in process through fake sockets, so no kernel,
// no scheduling and no other process is in the figure. Beside it, the same
// loop with a client that answers at once (the harness's own cost).
//
// bench/invoke.ts measures the whole proxy on real sockets; this one says
// how much of it is corral's own code, with no noise from a shared machine.
// Prints one JSON line: wall µs per request (best and median of the runs)
// and the process's CPU µs per request (user + system, all threads: GC and
// JIT helpers included), which other load on a shared machine disturbs far
// less than wall time.
//   npx bun bench/invoke-path.ts [--requests 100000] [--runs 7] [--tree DIR]
// --tree runs another checkout's modules in this harness (bench/invoke-path-ab.ts
// alternates two trees that way).
import { join } from "node:path";
import type { Logger } from "../core/log.ts";
import { ROOT } from "../test/helpers/proc.ts";
import { numberFlag, stringFlag } from "./support/args.ts";

const REQUESTS = numberFlag("requests", 100_000);
const RUNS = numberFlag("runs", 7);
const TREE = stringFlag("tree", ROOT);
const from = <T>(path: string): Promise<T> => import(join(TREE, path)) as Promise<T>;

const { Registry } = await from<typeof import("prom-client")>("node_modules/prom-client/index.js");
const { ScopedMetrics } = await from<typeof import("../core/plugins/metrics.ts")>("core/plugins/metrics.ts");
const { invokeConfigSchema } = await from<typeof import("../plugins/invoke/config.ts")>("plugins/invoke/config.ts");
const { ClientConn } = await from<typeof import("../plugins/invoke/fast/server.ts")>("plugins/invoke/fast/server.ts");
const { UpstreamConn, UpstreamPool } = await from<typeof import("../plugins/invoke/fast/upstream.ts")>("plugins/invoke/fast/upstream.ts");
const { Invoker } = await from<typeof import("../plugins/invoke/invoker.ts")>("plugins/invoke/invoker.ts");
const { HostRouter } = await from<typeof import("../plugins/invoke/listener.ts")>("plugins/invoke/listener.ts");
const { InvokeMetrics } = await from<typeof import("../plugins/invoke/metrics.ts")>("plugins/invoke/metrics.ts");
const { ServiceRegistry } = await from<typeof import("../plugins/invoke/services.ts")>("plugins/invoke/services.ts");
const { TraceIds } = await from<typeof import("../plugins/invoke/trace.ts")>("plugins/invoke/trace.ts");
type Engine = import("../plugins/invoke/fast/server.ts").Engine;
type Sock = import("../plugins/invoke/fast/server.ts").Sock;
type ClientConn = import("../plugins/invoke/fast/server.ts").ClientConn;
type UpstreamConn = import("../plugins/invoke/fast/upstream.ts").UpstreamConn;

const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n");
// What test/invoke/backend.ts answers (Bun.serve's head).
const ANSWER = Buffer.from("HTTP/1.1 200 OK\r\nx-backend: b0\r\ncontent-type: text/plain;charset=utf-8\r\nDate: Fri, 27 Nov 2026 11:00:00 GMT\r\nContent-Length: 2\r\n\r\nb0");

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;
const cfg = invokeConfigSchema.parse({});
const registry = new ServiceRegistry(cfg, {
  source: {
    watch(_service, on) {
      const at = (id: string, port: number) => ({ key: `n1/${id}`, node: "n1", serviceId: id, address: "127.0.0.1", port, weight: 1 });
      queueMicrotask(() => on.update({ exists: true, passing: [at("b0", 1), at("b1", 2)] }));
      return { stop() {} };
    },
  },
  now: Date.now, rng: Math.random, log: quiet, onDropped() {},
} as ConstructorParameters<typeof ServiceRegistry>[1]);
const metrics = new InvokeMetrics(new ScopedMetrics(new Registry()), () => registry.list());
const invoker = new Invoker({
  cfg, registry, metrics, rng: Math.random, now: Date.now, log: quiet,
  authorizer: { enabled: () => false, authorizeCall: () => ({ allowed: true, reason: "" }) },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
});
const pool = new UpstreamPool();
const engine: Engine = { invoker, router: new HostRouter("corral", "dc1"), pool, trace: new TraceIds(), log: quiet, sweeps: () => 0 };

// Instances: pooled connections whose socket answers every request on the next microtask, like data arriving.
const svc = registry.acquire("bench");
await svc.ready;
const size = (d: Uint8Array | string) => (typeof d === "string" ? d.length : d.byteLength);
for (const ep of svc.pool.endpoints) {
  const idle: UpstreamConn[] = [];
  for (let i = 0; i < 4; i++) {
    const c = new UpstreamConn(ep.base, () => {}, () => {});
    c.socket = {
      write: (d: Uint8Array | string) => (queueMicrotask(() => c.handler?.data(Buffer.from(ANSWER))), size(d)),
      setNoDelay: () => true, terminate() {}, pause() {}, resume() {}, end() {}, data: c,
    };
    idle.push(c);
  }
  (pool as unknown as { idle: Map<string, UpstreamConn[]> }).idle.set(ep.base, idle);
}

/** Sends REQUESTS requests one after the other through `onData`; µs per request (wall, and CPU of the process), best and median of RUNS. */
async function measure(makeClient: (sock: Sock) => { onData(d: Buffer): void }): Promise<{ min: number; median: number; cpuMin: number; cpuMedian: number }> {
  let n = 0;
  let done = () => {};
  let client!: { onData(d: Buffer): void };
  const sock = {
    remoteAddress: "127.0.0.1",
    write: (d: Uint8Array | string) => {
      if (++n >= REQUESTS) done();
      else queueMicrotask(() => client.onData(Buffer.from(REQUEST)));
      return size(d);
    },
    end() {}, terminate() {}, pause() {}, resume() {}, setNoDelay: () => true,
  } as unknown as Sock;
  client = makeClient(sock);
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    n = 0;
    const finished = new Promise<void>((res) => (done = res));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    client.onData(Buffer.from(REQUEST));
    await finished;
    const c = process.cpuUsage(c0);
    if (r === 0) continue; // the first run warms the JIT
    runs.push(((performance.now() - t0) * 1000) / REQUESTS);
    cpu.push((c.user + c.system) / REQUESTS);
  }
  runs.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  const mid = Math.floor(runs.length / 2);
  return { min: round(runs[0]!), median: round(runs[mid]!), cpuMin: round(cpu[0]!), cpuMedian: round(cpu[mid]!) };
}

const ANSWERED = Buffer.from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nb0");
const harness = await measure((sock) => ({ onData: () => void sock.write(ANSWERED) }));
const corral = await measure((sock) => {
  const c = new ClientConn(sock, engine, 0);
  (sock as { data: ClientConn }).data = c;
  return c;
});
console.log(JSON.stringify({
  bench: "invoke-path", tree: TREE, requests: REQUESTS, runs: RUNS,
  usPerRequest: { corral, harness },
  corralMinusHarnessUs: Math.round((corral.median - harness.median) * 100) / 100,
}));
pool.close();
registry.stop();
process.exit(0);
