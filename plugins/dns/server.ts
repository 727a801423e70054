// The DNS listeners: one UDP socket (node:dgram) and one TCP server (node:net)
// on the same address and port, both handing raw messages to `handler`.
//
// TCP (RFC 1035 §4.2.2, RFC 7766): every message is preceded by a 2-byte
// length; a connection may carry several queries, answered in order; it is
// closed after `idleTimeoutMs` without traffic, on a zero-length or oversized
// message, or when the client stops reading and its unread input piles up.
import dgram from "node:dgram";
import net from "node:net";
import type { DnsTransport } from "./types.ts";
import { BindError, bindError } from "../../core/sdk/index.ts";

/**
 * The answer to one message: the encoded response, or undefined to send
 * nothing; a promise only when the answer waits for a lookup elsewhere (an
 * agent's first query for a name). TCP holds a connection's later queries
 * only behind a promise; a synchronous answer is written at once.
 */
export type DnsMessageHandler = (query: Buffer, transport: DnsTransport) => Buffer | undefined | Promise<Buffer | undefined>;

/** Queries larger than this are dropped (UDP) or end the connection (TCP). */
export const MAX_QUERY_BYTES = 16 * 1024;
/** Concurrent TCP connections; more are refused by the kernel backlog / closed at once. */
export const MAX_TCP_CONNECTIONS = 512;

export interface DnsListenOptions {
  bind: string;
  /** 0: pick a free port, the same for UDP and TCP. */
  port: number;
  idleTimeoutMs: number;
  /** Errors after the listeners are up (a socket error); the plugin decides what they mean. */
  /** `udp-send`: a response could not be sent to one client (that client's problem, usually). */
  onError?: (err: unknown, where: "udp" | "tcp" | "udp-send") => void;
  /** Called with each listener as soon as it is up, so a failure later in setup still releases it. */
  own?: (c: { close(): Promise<void> }) => void;
}

export interface DnsListeners {
  address: string;
  port: number;
  close(): Promise<void>;
}

export class DnsBindError extends BindError {
  constructor(
    code: string,
    readonly transport: "udp" | "tcp",
    bind: string,
    port: number,
  ) {
    const e = bindError(code, {
      listener: "dns", address: bind, port, suffix: `/${transport}`,
      portHint: "set [plugins.dns] port (or --dns-port, CORRAL_PLUGINS_DNS_PORT) to a free port", bindHint: "check [plugins.dns] bind",
    });
    super("dns", bind, port, e.code ?? code, e.message);
    this.name = "DnsBindError";
  }
}

export async function listenDns(opts: DnsListenOptions, handler: DnsMessageHandler): Promise<DnsListeners> {
  const attempts = opts.port === 0 ? 8 : 1;
  for (let attempt = 1; ; attempt++) {
    const udp = await listenUdp(opts, handler);
    opts.own?.(udp);
    try {
      const tcp = await listenTcp({ ...opts, port: udp.port }, handler);
      opts.own?.(tcp);
      return {
        address: opts.bind,
        port: udp.port,
        close: async () => {
          await Promise.all([udp.close(), tcp.close()]);
        },
      };
    } catch (err) {
      await udp.close();
      // With port 0 the UDP port the kernel picked may be taken for TCP: try another.
      if (!(err instanceof DnsBindError && err.code === "EADDRINUSE" && attempt < attempts)) throw err;
    }
  }
}

interface Listener {
  port: number;
  close(): Promise<void>;
}

function once(close: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= close());
}

export function listenUdp(opts: DnsListenOptions, handler: DnsMessageHandler): Promise<Listener> {
  const socket = dgram.createSocket({ type: net.isIPv6(opts.bind) ? "udp6" : "udp4" });
  return new Promise((resolve, reject) => {
    const failBind = (err: NodeJS.ErrnoException) => {
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(new DnsBindError(err.code ?? err.message, "udp", opts.bind, opts.port));
    };
    socket.once("error", failBind);
    socket.on("message", (msg, rinfo) => {
      if (msg.length > MAX_QUERY_BYTES) return;
      const send = (out: Buffer | undefined) => {
        if (!out) return;
        socket.send(out, rinfo.port, rinfo.address, (err) => {
          if (err) opts.onError?.(err, "udp-send");
        });
      };
      try {
        const out = handler(msg, "udp");
        if (out instanceof Promise) out.then(send, (err) => opts.onError?.(err, "udp"));
        else send(out);
      } catch (err) {
        // Never let one message take the process down; the plugin decides.
        opts.onError?.(err, "udp");
      }
    });
    socket.bind(opts.port, opts.bind, () => {
      socket.off("error", failBind);
      socket.on("error", (err) => opts.onError?.(err, "udp"));
      resolve({
        port: socket.address().port,
        close: once(
          () =>
            new Promise<void>((done) => {
              try {
                socket.close(() => done());
              } catch {
                done(); // already closed
              }
            }),
        ),
      });
    });
  });
}

export function listenTcp(opts: DnsListenOptions, handler: DnsMessageHandler): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    serveConnection(socket, handler, opts);
  });
  server.maxConnections = MAX_TCP_CONNECTIONS;
  return new Promise((resolve, reject) => {
    const failBind = (err: NodeJS.ErrnoException) => {
      reject(new DnsBindError(err.code ?? err.message, "tcp", opts.bind, opts.port));
    };
    server.once("error", failBind);
    server.listen({ port: opts.port, host: opts.bind }, () => {
      server.off("error", failBind);
      server.on("error", (err) => opts.onError?.(err, "tcp"));
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: once(
          () =>
            new Promise<void>((done) => {
              for (const s of sockets) s.destroy();
              sockets.clear();
              server.close(() => done());
            }),
        ),
      });
    });
  });
}

function serveConnection(socket: net.Socket, handler: DnsMessageHandler, opts: DnsListenOptions): void {
  socket.setNoDelay(true);
  socket.setTimeout(opts.idleTimeoutMs, () => socket.destroy());
  socket.on("error", () => socket.destroy()); // a client resetting is not our failure
  let pending: Buffer = Buffer.alloc(0);
  let blocked = false;

  const drainInput = () => {
    while (!blocked && pending.length >= 2) {
      const len = pending.readUInt16BE(0);
      if (len === 0 || len > MAX_QUERY_BYTES) {
        socket.destroy();
        return;
      }
      if (pending.length < 2 + len) return;
      const msg = pending.subarray(2, 2 + len);
      pending = pending.subarray(2 + len);
      let out: Buffer | undefined | Promise<Buffer | undefined>;
      try {
        out = handler(Buffer.from(msg), "tcp");
      } catch (err) {
        fail(err);
        return;
      }
      if (out instanceof Promise) {
        // Answers go back in order: hold the next queries until this one is answered.
        blocked = true;
        out.then(
          (o) => {
            blocked = false;
            if (write(o)) drainInput();
          },
          fail,
        );
        return;
      }
      if (!write(out)) return;
    }
  };

  const fail = (err: unknown) => {
    socket.destroy();
    opts.onError?.(err, "tcp");
  };

  /** Sends one framed answer; false when the client is not reading (input paused until it does). */
  const write = (out: Buffer | undefined): boolean => {
    if (!out || socket.destroyed) return !socket.destroyed;
    const frame = Buffer.allocUnsafe(2 + out.length);
    frame.writeUInt16BE(out.length, 0);
    out.copy(frame, 2);
    if (socket.write(frame)) return true;
    blocked = true;
    socket.pause();
    socket.once("drain", () => {
      blocked = false;
      socket.resume();
      drainInput();
    });
    return false;
  };

  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (pending.length > 4 * (MAX_QUERY_BYTES + 2)) {
      socket.destroy();
      return;
    }
    drainInput();
  });
}
