// Serves a fetch handler on the runtime at hand: Bun.serve under Bun,
// Deno.serve under Deno, node:http (via @hono/node-server) under Node.
import { currentRuntime } from "../store/driver.ts";
import type { ServerTls } from "./tls.ts";

export interface Server {
  port: number;
  stop(): Promise<void>;
}

/** `env` is the Bun server (hono's c.env: requestIP for the client address); absent elsewhere. */
export type FetchHandler = (req: Request, env?: unknown) => Response | Promise<Response>;

/**
 * Bun.serve's WebSocket handlers (the Raft peer streams,
 * core/cluster/raft/stream-server.ts); a fetch handler upgrades with
 * env.upgrade(req). Other runtimes serve no WebSocket: the upgrade path then
 * falls through to the route table and peers use per-message requests.
 */
export type WebSocketHandlers = Record<string, unknown>;

export async function serve(fetch: FetchHandler, opts: { hostname: string; port: number; tls?: ServerTls; websocket?: WebSocketHandlers }): Promise<Server> {
  const runtime = currentRuntime();
  if (runtime === "bun") {
    const Bun = (globalThis as any).Bun;
    const server = Bun.serve({
      hostname: opts.hostname,
      port: opts.port,
      // Blocking queries hold a request open for minutes: Bun's default
      // 10 s idle timeout would cut them. 0 disables it; slow-loris
      // protection comes from body limits and per-route deadlines.
      idleTimeout: 0,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.websocket ? { websocket: opts.websocket } : {}),
      fetch: (req: Request, server: unknown) => fetch(req, server),
    });
    return { port: server.port, stop: async () => void server.stop(true) };
  }
  if (runtime === "deno") {
    const Deno = (globalThis as any).Deno;
    let resolvePort!: (p: number) => void;
    const ready = new Promise<number>((r) => (resolvePort = r));
    const server = Deno.serve(
      { hostname: opts.hostname, port: opts.port, onListen: (a: { port: number }) => resolvePort(a.port), ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}) },
      fetch,
    );
    const port = await ready;
    return { port, stop: () => server.shutdown() };
  }
  const { serve: nodeServe } = await import("@hono/node-server");
  const https = opts.tls ? { createServer: (await import("node:https")).createServer, serverOptions: opts.tls } : {};
  return new Promise((resolve, reject) => {
    const server = nodeServe({ fetch, hostname: opts.hostname, port: opts.port, ...https } as Parameters<typeof nodeServe>[0], (info) => {
      resolve({
        port: info.port,
        stop: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
    server.once("error", reject);
    // Same reason as Bun's idleTimeout above.
    (server as unknown as { requestTimeout: number }).requestTimeout = 0;
  });
}
