// Sending one attempt on a pooled connection and settling at the answer's
// head (1xx passed on to the client), with per-try timeouts checked by one
// ticking interval. When a reused connection dies before a byte came back
// (a stale keep-alive), a replayable request is sent once more on a fresh
// connection, transparently: that is not the instance failing, so it costs
// no retry and no breaker count.
import type { Reply, Transport } from "../invoker.ts";
import type { Endpoint } from "../pool.ts";
import { classifyError, type FailureKind } from "../retry.ts";
import { HttpError, MAX_HEAD_BYTES, parseResponseHead, type ResponseHead } from "./http1.ts";
import { latin1 } from "./outbox.ts";
import { UpstreamConn, type ConnHandler, type Deadlines, type UpstreamPool } from "./upstream.ts";

const HEAD_END = Buffer.from("\r\n\r\n");
const NON_ASCII = /[^\x00-\x7f]/;

/** An instance's answer: its head, the connection (now carrying the body) and body bytes read with the head. */
export interface RawReply extends Reply {
  head: ResponseHead;
  conn: UpstreamConn;
  /** The bytes received up to now: the head (CRLFCRLF included) from offset 0, then `rest`. */
  received: Buffer;
  headLength: number;
  /** Body bytes read with the head (null when none). */
  readonly rest: Buffer | null;
  /** The head's bytes as received (CRLFCRLF included). */
  readonly rawHead: Buffer;
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

/**
 * One attempt on one connection: reads the answer's head (passing 1xx on),
 * settles once, then holds what arrives until the forwarder takes over. One
 * object per attempt serves as the connection's handler and as the reply.
 */
export class Attempt implements ConnHandler, RawReply {
  status = 0;
  head!: ResponseHead;
  received!: Buffer;
  headLength = 0;
  readonly promise: Promise<Outcome>;
  private resolve!: (o: Outcome) => void;
  private buf: Buffer | null = null;
  private got = 0;
  private settled = false;
  private held: Buffer[] | null = null;
  private heldEnd: { err?: unknown } | null = null;
  /** performance.now() past which the attempt times out. */
  readonly deadline: number;

  constructor(
    private readonly t: RawTransport,
    readonly conn: UpstreamConn,
    tryMs: number,
  ) {
    this.promise = new Promise<Outcome>((r) => (this.resolve = r));
    this.deadline = performance.now() + tryMs;
    t.deadlines.add(this);
    conn.handler = this;
  }

  finish(v: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    this.t.deadlines.delete(this);
    this.t.abort = null;
    if (typeof v === "string") {
      this.conn.handler = null;
      this.conn.close();
    }
    this.resolve(v);
  }

  data(d: Buffer): void {
    if (this.settled) return void (this.held ??= []).push(d);
    this.got += d.byteLength;
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    this.readHead();
  }

  closed(err?: unknown): void {
    if (this.settled) return void (this.heldEnd = { err });
    if (this.got === 0 && this.conn.reused) return this.finish("stale");
    const k = err ? classifyError(err) : "reset";
    this.finish(k === "other" ? "reset" : k);
  }

  get rawHead(): Buffer {
    return this.received.subarray(0, this.headLength);
  }

  get rest(): Buffer | null {
    return this.headLength < this.received.byteLength ? this.received.subarray(this.headLength) : null;
  }

  handOver(h: ConnHandler): void {
    this.conn.handler = h;
    const held = this.held;
    this.held = null;
    if (held) for (const c of held) h.data(c);
    if (this.heldEnd) h.closed(this.heldEnd.err);
  }

  /** Settles on the final head; passes 1xx heads on; waits while incomplete. */
  private readHead(): void {
    let buf = this.buf!;
    for (;;) {
      const end = buf.indexOf(HEAD_END);
      if (end > MAX_HEAD_BYTES || (end < 0 && buf.byteLength > MAX_HEAD_BYTES)) return this.finish("other");
      if (end < 0) return void (this.buf = buf);
      let parsed: ResponseHead;
      try {
        parsed = parseResponseHead(buf.toString("latin1", 0, end), this.t.method);
      } catch (err) {
        if (err instanceof HttpError) return this.finish("other");
        throw err;
      }
      const next = end + 4;
      if (parsed.status < 200 && parsed.status !== 101) {
        this.t.interim(buf.subarray(0, next));
        if (next >= buf.byteLength) return void (this.buf = null);
        buf = buf.subarray(next);
        continue;
      }
      this.buf = null;
      this.status = parsed.status;
      this.head = parsed;
      // Views are made only when asked for: a small answer usually goes on as the one chunk it came in.
      this.received = buf;
      this.headLength = next;
      return this.finish(this);
    }
  }
}

/**
 * A client connection's attempts, one exchange at a time: `reset` per
 * request, then the Invoker calls send() per attempt. Reused across the
 * connection's requests (no transport object per call).
 */
export class RawTransport implements Transport<RawReply> {
  /** Set while an attempt waits for its head: the client went away. */
  abort: (() => void) | null = null;
  method = "GET";
  private prefix = "";
  private body: BodySource = { buffered: null };

  constructor(
    private readonly pool: UpstreamPool,
    readonly interim: InterimSink,
  ) {}

  get deadlines(): Deadlines {
    return this.pool.deadlines;
  }

  reset(prefix: string, method: string, body: BodySource): this {
    this.prefix = prefix;
    this.method = method;
    this.body = body;
    this.abort = null;
    return this;
  }

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
      const a = new Attempt(this, conn, Math.max(1, deadline - performance.now()));
      this.abort = () => a.finish("aborted");
      this.write(conn, ep);
      const out = await a.promise;
      // A reused connection that died before answering was stale, not the instance failing.
      if (out === "stale" && this.body.attach === undefined && !fresh) continue;
      return out === "stale" ? "reset" : out;
    }
  }

  discard(r: RawReply): void {
    r.conn.close();
  }

  private write(conn: UpstreamConn, ep: Endpoint): void {
    const text = `${this.prefix}host: ${ep.hostPort}\r\n\r\n`;
    // An ASCII head goes as a string (Bun encodes it natively); obs-text needs its latin-1 bytes.
    if (this.body.buffered) conn.out.write(Buffer.concat([latin1(text), this.body.buffered]));
    else conn.out.write(NON_ASCII.test(text) ? latin1(text) : text);
    this.body.attach?.(conn);
  }
}
