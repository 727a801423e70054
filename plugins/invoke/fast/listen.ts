// The raw-socket listener (Bun.listen): one ClientConn per client connection
// (server.ts), and a sweep that closes keep-alive connections left idle —
// checked every IDLE_SWEEP_MS rather than with a socket timer reset on every
// request (a native call each time).
import type { H2Server } from "../h2/relay.ts";
import { ClientConn, type Engine, type Sock } from "./server.ts";

/** Seconds a client connection may sit idle between requests. */
const CLIENT_IDLE_SECONDS = 120;
const IDLE_SWEEP_MS = 10_000;

export interface SocketListener {
  address: string;
  port: number;
  close(): Promise<void>;
}

export function listenSockets(opts: { bind: string; port: number }, engine: Omit<Engine, "sweeps" | "h2">, h2?: H2Server): SocketListener {
  let sweeps = 0;
  const conns = new Set<ClientConn>();
  const e: Engine = { ...engine, sweeps: () => sweeps };
  // An h2c connection leaves the HTTP/1.1 side: from its first bytes on, the
  // socket's callbacks feed the h2 server (same method names as ClientConn's).
  if (h2) {
    e.h2 = (s, first) => {
      conns.delete(s.data);
      s.data = h2.adopt(s, first) as unknown as ClientConn;
    };
  }
  const sweeper = setInterval(() => {
    sweeps++;
    const before = sweeps - Math.ceil((CLIENT_IDLE_SECONDS * 1000) / IDLE_SWEEP_MS);
    for (const c of conns) c.closeIfIdle(before);
  }, IDLE_SWEEP_MS);
  const Bun = (globalThis as { Bun: { listen(o: unknown): { port: number; stop(force?: boolean): void } } }).Bun;
  let server: { port: number; stop(force?: boolean): void };
  try {
    server = Bun.listen({
      hostname: opts.bind,
      port: opts.port,
      socket: {
        open: (s: Sock) => {
          s.setNoDelay(true); // heads and small bodies go out at once, not after the peer's delayed ACK
          s.data = new ClientConn(s, e, sweeps);
          conns.add(s.data);
        },
        data: (s: Sock, d: Buffer) => s.data.onData(d),
        drain: (s: Sock) => s.data.out.drain(),
        close: (s: Sock) => {
          conns.delete(s.data);
          s.data.onClose();
        },
        // A socket error, or a throw in our handlers (Bun routes it here): this connection is done; the listener goes on.
        error: (s: Sock, err: unknown) => {
          // An error with a code is the network's (a reset); one without is a bug of ours, worth a warning.
          if ((err as { code?: string })?.code) e.log.debug("invoke: client connection error", { err });
          else e.log.warn("invoke: client connection failed", { err });
          s.terminate();
          s.data.onClose();
        },
      },
    });
  } catch (err) {
    clearInterval(sweeper);
    e.pool.close();
    h2?.close();
    throw err;
  }
  return {
    address: opts.bind,
    port: server.port,
    close: async () => {
      clearInterval(sweeper);
      server.stop(true);
      e.pool.close();
      h2?.close();
    },
  };
}
