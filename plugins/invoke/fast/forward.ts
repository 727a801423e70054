// Passing an instance's answer to the client: the head (connection-scoped
// fields dropped), then the body as it arrives, delimited the way the head
// says, with backpressure (a slow client pauses the instance's socket).
// When the body ends, the upstream connection goes back to the pool if it
// can carry another request.
import { ChunkedDecoder } from "./chunked.ts";
import { clientHead } from "./http1.ts";
import { latin1, type Outbox } from "./outbox.ts";
import type { RawReply } from "./transport.ts";
import type { ConnHandler, UpstreamPool } from "./upstream.ts";

export interface ClientSide {
  out: Outbox;
  /** Upstream socket to pause while the client's send buffer is full (null when none). */
  forwarding: Forwarder | null;
  /** The exchange is over; close the client connection when `close`. */
  finished(close: boolean): void;
  /** The answer cannot be completed (the instance broke off): drop the client connection. */
  broken(): void;
}

export class Forwarder implements ConnHandler {
  private r!: RawReply;
  private closeAfter = false;
  private dechunk = false;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private done = true;
  /** While set, output is collected and written once: one send(2) for head and first bytes (and no Nagle stall between them). */
  private batch: Uint8Array[] | null = null;

  /** One per client connection, reused for each of its answers. */
  constructor(
    private readonly client: ClientSide,
    private readonly pool: UpstreamPool,
    /** The request body was sent in full (else the connection is mid-request and cannot be reused). */
    private readonly requestComplete: () => boolean,
  ) {}

  start(r: RawReply, closeAfter: boolean, dechunk: boolean): void {
    this.r = r;
    this.closeAfter = closeAfter;
    this.dechunk = dechunk;
    this.done = false;
    this.remaining = r.head.framing === "length" ? r.head.contentLength : 0;
    this.decoder = r.head.framing === "chunked" ? new ChunkedDecoder() : null;
    this.client.forwarding = this;
    // The common case (HTTP/1.1, nothing connection-scoped, client keeps the
    // connection) passes the head on as received: no decoding, no rebuilding.
    const asIs = r.head.verbatim && !closeAfter && !dechunk;
    // Commonest of all: head and the whole body in the chunk received, passed on as that chunk.
    if (asIs && r.head.framing === "length" && r.received.byteLength - r.headLength === this.remaining) {
      this.client.out.write(r.received);
      this.end(true);
      return;
    }
    this.batch = [asIs ? r.rawHead : latin1(clientHead(r.head, closeAfter, dechunk))];
    if (r.head.framing === "none" || (r.head.framing === "length" && this.remaining === 0)) {
      this.flush();
      this.end(r.rest === null);
      return;
    }
    if (r.rest) this.data(r.rest);
    this.flush();
    if (!this.done) r.handOver(this);
  }

  pause(paused: boolean): void {
    const conn = this.r.conn;
    if (this.done || conn.paused === paused) return;
    conn.paused = paused;
    if (paused) conn.socket.pause();
    else conn.socket.resume();
  }

  private emit(b: Uint8Array): void {
    if (this.batch) this.batch.push(b);
    else this.client.out.write(b);
  }

  private flush(): void {
    const b = this.batch;
    this.batch = null;
    if (!b || !b.length) return;
    if (b.length === 1) return void this.client.out.write(b[0]!);
    // Head and body read together and passed on as is: one view of the received bytes, no copy.
    const [x, y] = b as [Uint8Array, Uint8Array];
    if (b.length === 2 && x.buffer === y.buffer && x.byteOffset + x.byteLength === y.byteOffset) {
      return void this.client.out.write(new Uint8Array(x.buffer, x.byteOffset, x.byteLength + y.byteLength));
    }
    this.client.out.write(Buffer.concat(b));
  }

  data(d: Buffer): void {
    if (this.done) return;
    const framing = this.r.head.framing;
    if (framing === "close") return this.emit(d);
    if (framing === "length") {
      const n = Math.min(this.remaining, d.byteLength);
      this.emit(n === d.byteLength ? d : d.subarray(0, n));
      this.remaining -= n;
      if (this.remaining === 0) this.end(n === d.byteLength);
      return;
    }
    this.chunked(d);
  }

  /** The client went away mid-answer: stop reading the instance (an endless event stream would hold it forever). */
  clientGone(): void {
    if (this.done) return;
    this.done = true;
    this.client.forwarding = null;
    this.r.conn.close();
  }

  closed(): void {
    if (this.done) return;
    if (this.r.head.framing === "close") return this.end(false);
    // Cut mid-body: the client must not take a truncated body for a whole one.
    this.done = true;
    this.client.forwarding = null;
    this.client.broken();
  }

  private chunked(d: Buffer): void {
    let at: number;
    try {
      at = this.dechunk ? this.decoder!.push(d, 0, d.byteLength, (a, b) => this.emit(d.subarray(a, b))) : this.decoder!.push(d, 0, d.byteLength);
    } catch {
      return this.closed();
    }
    if (!this.dechunk) this.emit(at < 0 || at === d.byteLength ? d : d.subarray(0, at));
    if (at >= 0) this.end(at === d.byteLength);
  }

  /** `clean`: nothing arrived past the body (else the connection is out of step and is closed). */
  private end(clean: boolean): void {
    this.flush();
    this.done = true;
    this.client.forwarding = null;
    const conn = this.r.conn;
    if (clean && !this.r.head.close && this.r.head.framing !== "close" && this.requestComplete()) {
      this.pool.release(conn);
    } else conn.close();
    this.client.finished(this.closeAfter);
  }
}
