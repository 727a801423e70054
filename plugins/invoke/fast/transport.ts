// Sending one attempt on a pooled connection and settling at the answer's
// head (1xx passed on to the client), with per-try timeouts checked by one
// ticking interval. When a reused connection dies before a byte came back
// (a stale keep-alive), a replayable request is sent once more on a fresh
// connection, transparently: that is not the instance failing, so it costs
// no retry and no breaker count.
//
// No object, promise or closure per attempt: one RawTransport per client
// connection is the attempt's connection handler and, once settled, its
// reply. The answer's head is read in the instance socket's data callback
// and the call loop is told in that same callback.
import type { Reply, Transport } from "../invoker.ts";
import type { Endpoint } from "../pool.ts";
import { classifyError, type FailureKind } from "../retry.ts";
import { HeadBytes } from "./head-bytes.ts";
import { HEAD_END, HttpError, MAX_HEAD_BYTES, type ResponseHead } from "./http1.ts";
import { readResponseHead } from "./scan.ts";
import { NO_ROUTE, UpstreamConn, type ConnHandler, type Route, type Timed, type UpstreamPool } from "./upstream.ts";

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

/** What the transport tells the client side outside the call loop. */
export interface AttemptHooks {
  /** 1xx answers (100 Continue) go to the client as they come; the final head settles the attempt. */
  interim(bytes: Buffer): void;
  /** Our code threw where no caller can catch it (after a connect): the exchange cannot go on. */
  crashed(err: unknown): void;
}

type Settle = (out: RawReply | FailureKind) => void;
const CRLF = Buffer.from("\r\n");
/** A buffered body up to this size is copied behind the head and sent with it; larger ones are concatenated once. */
const INLINE_BODY_BYTES = 8 * 1024;
/** A request without a body. */
export const NO_BODY: BodySource = { buffered: null };

/**
 * A client connection's attempts, one exchange at a time: `reset` per
 * request, then the call loop's send() per attempt.
 */
export class RawTransport implements Transport<RawReply>, RawReply, ConnHandler, Timed {
  status = 0;
  head!: ResponseHead;
  received!: Buffer;
  headLength = 0;
  conn!: UpstreamConn;
  /** performance.now() past which the attempt in flight times out. */
  deadline = 0;
  timedSlot = -1;
  method = "GET";
  /**
   * The request's head up to its Host line, written here by the client side
   * before reset() (or by reset() from a string); each attempt adds its
   * Host lines after it, in place. Kept for the connection's life: no head
   * is built as a string per request.
   */
  readonly sendHead = new HeadBytes();
  private prefixLen = 0;
  private body: BodySource = NO_BODY;
  private route: Route = NO_ROUTE;
  /** Set while an attempt is in flight (cleared when it settles). */
  private settle: Settle | null = null;
  private ep!: Endpoint;
  /** The attempt in flight went out again on a new connection after a stale one. */
  private fresh = false;
  /** The request is on `conn` and the attempt waits for the answer's head. */
  private sent = false;
  private buf: Buffer | null = null;
  private got = 0;
  private held: Buffer[] | null = null;
  private heldEnd: { err?: unknown } | null = null;
  private readonly refused = (): void => this.finish("refused"); // nothing was sent: safe to send elsewhere, whatever the method
  private readonly opened = (conn: UpstreamConn): void => this.begin(conn);

  constructor(
    private readonly pool: UpstreamPool,
    private readonly hooks: AttemptHooks,
  ) {}

  /**
   * `prefix`: the head without its Host lines and final CRLF, as latin-1
   * text; null when it was written into `sendHead` already.
   * `route`: where the attempts go (the mesh's pool key), NO_ROUTE for an instance itself.
   */
  reset(prefix: string | null, method: string, body: BodySource, route: Route = NO_ROUTE): this {
    if (prefix !== null) {
      this.sendHead.clear();
      this.sendHead.text(prefix);
    }
    this.prefixLen = this.sendHead.len;
    this.method = method;
    this.body = body;
    this.route = route;
    return this;
  }

  send(ep: Endpoint, tryMs: number, settle: Settle): void {
    this.settle = settle;
    this.ep = ep;
    this.fresh = false;
    this.deadline = performance.now() + tryMs;
    this.open(this.pool.acquire(ep, this.route));
  }

  /** The client went away: an attempt still waiting for its head ends. */
  abort(): void {
    if (this.sent) this.finish("aborted");
  }

  discard(r: RawReply): void {
    r.conn.close();
  }

  /** Settles the attempt in flight, once. */
  finish(v: RawReply | FailureKind | "stale"): void {
    const settle = this.settle;
    if (!settle) return;
    // Refused while connecting, the attempt has no connection: `conn` is still an earlier attempt's, maybe back in the pool for another client.
    const onConn = this.sent;
    this.settle = null;
    this.sent = false;
    if (onConn) {
      this.pool.deadlines.delete(this);
      if (v !== this) {
        this.conn.handler = null;
        this.conn.close();
      }
    }
    if (v === "stale") {
      // A reused connection that died before answering was stale, not the instance failing.
      if (this.body.attach === undefined && !this.fresh) {
        this.fresh = true;
        this.settle = settle;
        return this.open(this.pool.connect(this.ep, this.route));
      }
      v = "reset";
    }
    settle(v as RawReply | FailureKind); // the call loop catches what throws past it
  }

  // ConnHandler: the connection's events while the attempt waits for its head (then held until handOver).
  data(d: Buffer): void {
    if (!this.settle) return void (this.held ??= []).push(d);
    this.got += d.byteLength;
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    this.readHead();
  }

  closed(err?: unknown): void {
    if (!this.settle) return void (this.heldEnd = { err });
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
    const end = this.heldEnd;
    this.held = null;
    this.heldEnd = null;
    if (held) for (const c of held) h.data(c);
    if (end) h.closed(end.err);
  }

  private open(c: UpstreamConn | Promise<UpstreamConn>): void {
    if (c instanceof UpstreamConn) return this.begin(c);
    c.then(this.opened, this.refused).catch((err) => this.hooks.crashed(err));
  }

  private begin(conn: UpstreamConn): void {
    this.conn = conn;
    this.buf = null;
    this.got = 0;
    this.held = null;
    this.heldEnd = null;
    conn.handler = this;
    this.sent = true;
    this.pool.deadlines.add(this);
    const h = this.sendHead;
    h.len = this.prefixLen;
    h.bytes(this.pool.hostLines(this.ep, this.route));
    h.bytes(CRLF);
    // Head and a small body in one write (one send(2)); a large one is not copied into the head's buffer.
    const body = this.body.buffered;
    if (body && body.byteLength > INLINE_BODY_BYTES) conn.out.write(Buffer.concat([h.buf.subarray(0, h.len), body]));
    else {
      if (body) h.copy(body, 0, body.byteLength);
      conn.out.writeReused(h.buf, h.len);
    }
    this.body.attach?.(conn);
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
        parsed = readResponseHead(buf, end, this.method);
      } catch (err) {
        if (err instanceof HttpError) return this.finish("other");
        throw err;
      }
      const next = end + 4;
      if (parsed.status < 200 && parsed.status !== 101) {
        this.hooks.interim(buf.subarray(0, next));
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
