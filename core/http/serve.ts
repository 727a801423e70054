// Serves a fetch handler on the runtime at hand: Bun.serve under Bun,
// Deno.serve under Deno, node:http (via @hono/node-server) under Node.
import { currentRuntime } from "../store/driver.ts";

export interface Server {
  port: number;
  stop(): Promise<void>;
}

export type FetchHandler = (req: Request) => Response | Promise<Response>;

export async function serve(fetch: FetchHandler, opts: { hostname: string; port: number }): Promise<Server> {
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
      fetch: (req: Request) => fetch(req),
    });
    return { port: server.port, stop: async () => void server.stop(true) };
  }
  if (runtime === "deno") {
    const Deno = (globalThis as any).Deno;
    let resolvePort!: (p: number) => void;
    const ready = new Promise<number>((r) => (resolvePort = r));
    const server = Deno.serve(
      { hostname: opts.hostname, port: opts.port, onListen: (a: { port: number }) => resolvePort(a.port) },
      fetch,
    );
    const port = await ready;
    return { port, stop: () => server.shutdown() };
  }
  const { serve: nodeServe } = await import("@hono/node-server");
  return new Promise((resolve, reject) => {
    const server = nodeServe({ fetch, hostname: opts.hostname, port: opts.port }, (info) => {
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
