// A client request's body as it arrives on the socket: buffered whole when
// small (so a retry can send it again), or passed on to the upstream
// connection as it comes (one attempt). Either way each sink knows where the
// body ends, so what follows is the connection's next request.
import { ChunkedDecoder } from "./chunked.ts";
import type { BodySource } from "./transport.ts";
import type { UpstreamConn } from "./upstream.ts";

export interface BodySink {
  /** The whole body has arrived. */
  readonly complete: boolean;
  /** Takes the body's part of `d`; returns what follows the body (the next request), or null. */
  feed(d: Buffer): Buffer | null;
  /** The client went away. */
  abort(): void;
}

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Content-Length bodies up to retry_buffer_bytes: collected, then sent with each attempt's head. */
export class BufferedBody implements BodySink {
  complete = false;
  /** The whole body, once complete. */
  value: Buffer | null = null;
  readonly done: Promise<Buffer>;
  private parts: Buffer[] = [];
  private resolve!: (b: Buffer) => void;
  private reject!: (e: Error) => void;

  constructor(private need: number) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => {}); // observed by the exchange; a client gone early must not be an unhandled rejection
  }

  feed(d: Buffer): Buffer | null {
    const take = Math.min(this.need, d.byteLength);
    this.parts.push(take === d.byteLength ? d : d.subarray(0, take));
    this.need -= take;
    if (this.need === 0 && !this.complete) {
      this.complete = true;
      this.value = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.resolve(this.value);
      this.parts = [];
    }
    return take < d.byteLength ? d.subarray(take) : null;
  }

  abort(): void {
    this.reject(new Error("the client closed the connection"));
  }
}

/** Held before the attempt's connection exists; past this the client is paused. */
const MAX_HELD_BYTES = 1024 * 1024;

export interface ClientFlow {
  pause(): void;
  resume(): void;
  /** The body broke a rule (too large, bad chunking): answer `status` and close. */
  fail(err: BodyError): void;
}

/** Large or chunked bodies: passed to the upstream connection byte for byte, with backpressure both ways. */
export class StreamedBody implements BodySink, BodySource {
  readonly buffered = null;
  complete = false;
  private conn: UpstreamConn | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private seen = 0;
  private readonly decoder: ChunkedDecoder | null;

  constructor(
    private readonly client: ClientFlow,
    private remaining: number,
    chunked: boolean,
    private readonly maxBytes: number,
  ) {
    this.decoder = chunked ? new ChunkedDecoder() : null;
  }

  feed(d: Buffer): Buffer | null {
    let end = d.byteLength;
    if (this.decoder) {
      let at: number;
      try {
        at = this.decoder.push(d, 0, d.byteLength);
      } catch (err) {
        this.client.fail(new BodyError(400, (err as Error).message));
        return null;
      }
      if (at >= 0) end = at;
    } else {
      end = Math.min(end, this.remaining);
      this.remaining -= end;
    }
    this.complete = this.decoder ? this.decoder.done : this.remaining === 0;
    this.seen += end;
    if (this.maxBytes > 0 && this.seen > this.maxBytes) {
      this.client.fail(new BodyError(413, `request body is larger than ${this.maxBytes} bytes`));
      return null;
    }
    const part = end === d.byteLength ? d : d.subarray(0, end);
    if (this.conn) this.conn.out.write(part);
    else this.hold(part);
    return end < d.byteLength ? d.subarray(end) : null;
  }

  attach(conn: UpstreamConn): void {
    this.conn = conn;
    conn.bodyPaused = (paused) => (paused ? this.client.pause() : this.client.resume());
    for (const p of this.held) conn.out.write(p);
    const wasHolding = this.heldBytes > MAX_HELD_BYTES;
    this.held = [];
    this.heldBytes = 0;
    if (wasHolding && !conn.out.blocked) this.client.resume();
  }

  abort(): void {
    this.conn?.close();
  }

  private hold(part: Buffer): void {
    this.held.push(part);
    this.heldBytes += part.byteLength;
    if (this.heldBytes > MAX_HELD_BYTES) this.client.pause();
  }
}
