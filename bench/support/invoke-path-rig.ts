// The in-process rig of the invoke benches (invoke-path.ts, invoke-alloc.ts):
// a ClientConn of the raw-socket listener with its whole engine (registry,
// invoker, pool, metrics, trace ids) over fake sockets — two instances
// whose pooled connections answer every request on the next microtask, like
// data arriving, and a client that sends the next request as soon as the
// answer is written. No kernel, no scheduling, no other process: what is
// measured is corral's own work per request. `tree` runs another checkout's
// modules (invoke-path-ab.ts compares two trees that way).
import { join } from "node:path";
import type { Logger } from "../../core/log.ts";
import { ROOT } from "../../test/helpers/proc.ts";

type Sock = import("../../plugins/invoke/fast/server.ts").Sock;
type UpstreamConn = import("../../plugins/invoke/fast/upstream.ts").UpstreamConn;

export const REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n");
// What test/invoke/backend.ts answers (Bun.serve's head).
export const ANSWER = Buffer.from("HTTP/1.1 200 OK\r\nx-backend: b0\r\ncontent-type: text/plain;charset=utf-8\r\nDate: Fri, 27 Nov 2026 11:00:00 GMT\r\nContent-Length: 2\r\n\r\nb0");

export interface PathRig {
  /** Sends `n` requests one after the other through corral's client connection; resolves after the last answer. */
  run(n: number): Promise<void>;
  /** The same loop with a client that answers at once (the rig's own cost). */
  runBare(n: number): Promise<void>;
  stop(): void;
}

/** `now`: the wall clock the registry and the call loop read (tests count its reads). */
export async function pathRig(tree = ROOT, now: () => number = Date.now): Promise<PathRig> {
  const from = <T>(path: string): Promise<T> => import(join(tree, path)) as Promise<T>;
  const { Registry } = await from<typeof import("prom-client")>("node_modules/prom-client/index.js");
  const { ScopedMetrics } = await from<typeof import("../../core/plugins/metrics.ts")>("core/plugins/metrics.ts");
  const { invokeConfigSchema } = await from<typeof import("../../plugins/invoke/config.ts")>("plugins/invoke/config.ts");
  const { ClientConn } = await from<typeof import("../../plugins/invoke/fast/server.ts")>("plugins/invoke/fast/server.ts");
  const { UpstreamConn, UpstreamPool } = await from<typeof import("../../plugins/invoke/fast/upstream.ts")>("plugins/invoke/fast/upstream.ts");
  const { Invoker } = await from<typeof import("../../plugins/invoke/invoker.ts")>("plugins/invoke/invoker.ts");
  const { HostRouter } = await from<typeof import("../../plugins/invoke/listener.ts")>("plugins/invoke/listener.ts");
  const { InvokeMetrics } = await from<typeof import("../../plugins/invoke/metrics.ts")>("plugins/invoke/metrics.ts");
  const { ServiceRegistry } = await from<typeof import("../../plugins/invoke/services.ts")>("plugins/invoke/services.ts");
  const { TraceIds } = await from<typeof import("../../plugins/invoke/trace.ts")>("plugins/invoke/trace.ts");
  type Engine = import("../../plugins/invoke/fast/server.ts").Engine;

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
    now, rng: Math.random, log: quiet, onDropped() {},
  } as ConstructorParameters<typeof ServiceRegistry>[1]);
  const metrics = new InvokeMetrics(new ScopedMetrics(new Registry()), () => registry.list());
  const invoker = new Invoker({
    cfg, registry, metrics, rng: Math.random, now, log: quiet,
    authorizer: { enabled: () => false, authorizeCall: () => ({ allowed: true, reason: "" }) },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
  const pool = new UpstreamPool();
  const engine: Engine = { invoker, router: new HostRouter("corral", "dc1"), pool, trace: new TraceIds(), log: quiet, sweeps: () => 0 };

  const svc = registry.acquire("bench");
  await svc.ready;
  const size = (d: Uint8Array | string) => (typeof d === "string" ? d.length : d.byteLength);
  for (const ep of svc.pool.endpoints) {
    const idle: UpstreamConn[] = [];
    for (let i = 0; i < 4; i++) {
      const c = new UpstreamConn(ep.base, () => {}, () => {});
      c.socket = {
        write: (d: Uint8Array | string, _o?: number, l?: number) => (queueMicrotask(() => c.handler?.data(Buffer.from(ANSWER))), l ?? size(d)),
        setNoDelay: () => true, terminate() {}, pause() {}, resume() {}, end() {}, data: c,
      };
      idle.push(c);
    }
    (pool as unknown as { idle: Map<string, UpstreamConn[]> }).idle.set(ep.base, idle);
  }

  /** A fake client socket sending `n` requests, each once the previous answer is written, through `client`. */
  function loop(makeClient: (sock: Sock) => { onData(d: Buffer): void }): (n: number) => Promise<void> {
    let left = 0;
    let done = () => {};
    let client!: { onData(d: Buffer): void };
    const sock = {
      remoteAddress: "127.0.0.1",
      write: (d: Uint8Array | string) => {
        if (--left <= 0) done();
        else queueMicrotask(() => client.onData(Buffer.from(REQUEST)));
        return size(d);
      },
      end() {}, terminate() {}, pause() {}, resume() {}, setNoDelay: () => true,
    } as unknown as Sock;
    client = makeClient(sock);
    return (n) => {
      left = n;
      const finished = new Promise<void>((res) => (done = res));
      client.onData(Buffer.from(REQUEST));
      return finished;
    };
  }

  const ANSWERED = Buffer.from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nb0");
  return {
    run: loop((sock) => {
      const c = new ClientConn(sock, engine, 0);
      (sock as { data: InstanceType<typeof ClientConn> }).data = c;
      return c;
    }),
    runBare: loop((sock) => ({ onData: () => void sock.write(ANSWERED) })),
    stop() {
      pool.close();
      registry.stop();
    },
  };
}
