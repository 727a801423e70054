// Connections to instances: a keep-alive pool per instance over Bun.connect,
// and the transport that sends one attempt on one of them and settles at
// the response head.
//
// An idle connection is closed by us after IDLE_SECONDS (give or take a
// sweep), before typical
// servers give up on it (Node 5 s, Bun 10 s), so a reused one is rarely
// stale. When it is anyway (closed before a byte came back), a replayable
// request is sent once more on a fresh connection, transparently: that is
// not the instance failing, so it costs no retry and no breaker count.
import type { Reply, Transport } from "../invoker.ts";
import type { Endpoint } from "../pool.ts";
import { classifyError, type FailureKind } from "../retry.ts";
import { HttpError, MAX_HEAD_BYTES, parseResponseHead, type ResponseHead } from "./http1.ts";
import { latin1, Outbox } from "./outbox.ts";

const IDLE_SECONDS = 4;
/** How often idle connections are looked at (a per-request socket timer would cost a native call each time). */
const SWEEP_MS = 1000;
/** Idle connections kept per instance; more are closed when released. */
const MAX_IDLE_PER_INSTANCE = 256;
const HEAD_END = Buffer.from("\r\n\r\n");
const NON_ASCII = /[^\x00-\x7f]/;

/** Who currently reads a connection's events. */
export interface ConnHandler {
  data(d: Buffer): void;
  closed(err?: unknown): void;
}

export class UpstreamConn {
  socket!: BunSocket;
  handler: ConnHandler | null = null;
  /** Served an exchange before (a failure with no answer may just be a stale keep-alive). */
  reused = false;
  /** The pool's sweep count when it went idle. */
  idleSweep = 0;
  /** We paused reading it (a slow client): resume before reuse. */
  paused = false;
  closed = false;
  readonly out: Outbox;

  constructor(
    readonly key: string,
    onBlocked: () => void,
    onFlushed: () => void,
  ) {
    this.out = new Outbox({ write: (d) => this.socket.write(d) }, onBlocked, onFlushed);
  }

  /** The current streamed request body pauses and resumes with our send buffer. */
  bodyPaused: ((paused: boolean) => void) | null = null;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.dead = true;
    this.socket.terminate();
  }
}

interface BunSocket {
  write(d: Uint8Array | string, o?: number, l?: number): number;
  setNoDelay(on: boolean): boolean;
  terminate(): void;
  pause(): void;
  resume(): void;
  end(): void;
  data: UpstreamConn;
}

export class UpstreamPool {
  private idle = new Map<string, UpstreamConn[]>();
  private all = new Set<UpstreamConn>();
  private stopped = false;
  private sweeps = 0;
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_MS);

  /** Closes connections idle for IDLE_SECONDS (oldest sit at the bottom of each stack). */
  private sweep(): void {
    this.sweeps++;
    const cutoff = this.sweeps - Math.ceil((IDLE_SECONDS * 1000) / SWEEP_MS);
    for (const list of this.idle.values()) {
      let n = 0;
      while (n < list.length && list[n]!.idleSweep <= cutoff) list[n++]!.close();
      if (n) list.splice(0, n);
    }
  }

  /** A pooled connection to `ep`, or a new one. Rejects like fetch does (code ECONNREFUSED...). */
  acquire(ep: Endpoint): UpstreamConn | Promise<UpstreamConn> {
    const list = this.idle.get(ep.base);
    while (list && list.length) {
      const c = list.pop()!;
      if (c.closed) continue;
      return c;
    }
    return this.open(ep);
  }

  /** Always a new connection (after a stale pooled one). */
  connect(ep: Endpoint): Promise<UpstreamConn> {
    return this.open(ep);
  }

  release(c: UpstreamConn): void {
    c.handler = null;
    c.bodyPaused = null;
    if (c.closed || this.stopped) return c.close();
    c.reused = true;
    let list = this.idle.get(c.key);
    if (!list) this.idle.set(c.key, (list = []));
    if (list.length >= MAX_IDLE_PER_INSTANCE) return c.close();
    if (c.paused) {
      c.paused = false;
      c.socket.resume();
    }
    c.idleSweep = this.sweeps;
    list.push(c);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.stopped = true;
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.clear();
  }

  private async open(ep: Endpoint): Promise<UpstreamConn> {
    const conn = new UpstreamConn(ep.base, () => conn.bodyPaused?.(true), () => conn.bodyPaused?.(false));
    const forget = () => {
      conn.closed = true;
      conn.out.dead = true;
      this.all.delete(conn);
      const list = this.idle.get(conn.key);
      const at = list ? list.indexOf(conn) : -1;
      if (at >= 0) list!.splice(at, 1);
    };
    const Bun = (globalThis as { Bun: { connect(o: unknown): Promise<BunSocket> } }).Bun;
    conn.socket = await Bun.connect({
      hostname: ep.spec.address, port: ep.spec.port, data: conn,
      socket: {
        data: (s: BunSocket, d: Buffer) => (s.data.handler ? s.data.handler.data(d) : s.data.close()), // bytes while idle: not HTTP we understand
        drain: (s: BunSocket) => s.data.out.drain(),
        close: (s: BunSocket, err?: unknown) => {
          forget();
          s.data.handler?.closed(err);
        },
        error: (s: BunSocket, err: unknown) => {
          forget();
          s.data.handler?.closed(err);
        },
      },
    });
    conn.socket.setNoDelay(true);
    if (this.stopped) conn.close();
    else this.all.add(conn);
    return conn;
  }
}

/** Holds what a connection delivers between the answer's head and the forwarder taking over. */
class Held implements ConnHandler {
  private chunks: Buffer[] = [];
  private ended: { err?: unknown } | null = null;

  data(d: Buffer): void {
    this.chunks.push(d);
  }

  closed(err?: unknown): void {
    this.ended = { err };
  }

  /** Replays what was held into `h`, which reads the connection from now on. */
  handOver(conn: UpstreamConn, h: ConnHandler): void {
    conn.handler = h;
    for (const c of this.chunks) h.data(c);
    this.chunks = [];
    if (this.ended) h.closed(this.ended.err);
  }
}

/** An instance's answer: its head, the connection (now carrying the body) and body bytes read with the head. */
export interface RawReply extends Reply {
  head: ResponseHead;
  conn: UpstreamConn;
  rest: Buffer | null;
  /** The head's bytes as received (CRLFCRLF included). */
  rawHead: Buffer;
  /** Give the connection's further events to `h` (what arrived meanwhile first). */
  handOver(h: ConnHandler): void;
}

/** The request body as the transport sends it. */
export interface BodySource {
  /** The whole body, sent with the head (replayable); null when none or streamed. */
  buffered: Buffer | null;
  /** A streamed body: start passing it to this connection (one attempt only). */
  attach?(conn: UpstreamConn): void;
}

/** 1xx answers (100 Continue) go to the client as they come; the final head settles the attempt. */
export type InterimSink = (bytes: Buffer) => void;

type Outcome = RawReply | FailureKind | "stale";

export class RawTransport implements Transport<RawReply> {
  /** Set while an attempt waits for its head: the client went away. */
  abort: (() => void) | null = null;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly prefix: string,
    private readonly method: string,
    private readonly body: BodySource,
    private readonly interim: InterimSink,
  ) {}

  async send(ep: Endpoint, tryMs: number): Promise<RawReply | FailureKind> {
    const deadline = performance.now() + tryMs;
    for (let fresh = false; ; fresh = true) {
      let conn: UpstreamConn;
      try {
        const c = fresh ? this.pool.connect(ep) : this.pool.acquire(ep);
        conn = c instanceof UpstreamConn ? c : await c;
      } catch {
        return "refused"; // nothing was sent: safe to send elsewhere, whatever the method
      }
      const out = await this.attempt(conn, ep, Math.max(1, deadline - performance.now()));
      // A reused connection that died before answering was stale, not the instance failing.
      if (out === "stale" && this.body.attach === undefined && !fresh) continue;
      return out === "stale" ? "reset" : out;
    }
  }

  discard(r: RawReply): void {
    r.conn.close();
  }

  private attempt(conn: UpstreamConn, ep: Endpoint, tryMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let head: Buffer | null = null;
      let got = 0;
      const finish = (v: Outcome) => {
        clearTimeout(timer);
        this.abort = null;
        if (typeof v === "string") {
          conn.handler = null;
          conn.close();
        }
        resolve(v);
      };
      const timer = setTimeout(() => finish("timeout"), tryMs);
      this.abort = () => finish("aborted");
      conn.handler = {
        data: (d) => {
          got += d.byteLength;
          head = head ? Buffer.concat([head, d]) : d;
          const r = this.readHead(head, conn);
          if (r === undefined) return void (head.byteLength > MAX_HEAD_BYTES && finish("other"));
          if (typeof r === "string") return finish(r);
          if (r instanceof Buffer) return void (head = r); // an interim answer went to the client; more to read
          finish(r as RawReply);
        },
        closed: (err) => {
          if (got === 0 && conn.reused) return finish("stale");
          const k = err ? classifyError(err) : "reset";
          finish(k === "other" ? "reset" : k);
        },
      };
      const text = `${this.prefix}host: ${ep.hostPort}\r\n\r\n`;
      // An ASCII head goes as a string (Bun encodes it natively); obs-text needs its latin-1 bytes.
      if (this.body.buffered) conn.out.write(Buffer.concat([latin1(text), this.body.buffered]));
      else conn.out.write(NON_ASCII.test(text) ? latin1(text) : text);
      this.body.attach?.(conn);
    });
  }

  /**
   * The final answer once its head is complete; a Buffer (what follows) after
   * passing a 1xx on; undefined while incomplete; "other" when malformed.
   */
  private readHead(buf: Buffer, conn: UpstreamConn): RawReply | Buffer | "other" | undefined {
    let at = 0;
    for (;;) {
      const end = buf.indexOf(HEAD_END, at);
      if (end - at > MAX_HEAD_BYTES) return "other";
      if (end < 0) return at === 0 ? undefined : buf.subarray(at);
      let parsed: ResponseHead;
      try {
        parsed = parseResponseHead(buf.toString("latin1", at, end), this.method);
      } catch (err) {
        if (err instanceof HttpError) return "other";
        throw err;
      }
      const next = end + 4;
      if (parsed.status < 200 && parsed.status !== 101) {
        this.interim(buf.subarray(at, next));
        if (next >= buf.byteLength) return Buffer.alloc(0);
        at = next;
        continue;
      }
      const held = new Held();
      conn.handler = held;
      return {
        status: parsed.status, head: parsed, conn, rest: next < buf.byteLength ? buf.subarray(next) : null, rawHead: buf.subarray(at, next),
        handOver: (h) => held.handOver(conn, h),
      };
    }
  }
}
