// A client connection of the raw-socket listener (a Bun socket) as the
// Duplex stream node:http2 reads and writes: once the first bytes show an
// h2 preface (preface.ts), the connection is handed to the h2 server with
// `emit("connection", duplex)`, on the same port as HTTP/1.1. Backpressure
// both ways: what the socket cannot take waits until its drain (and the
// http2 session is told to wait through the write callback); when the
// session stops reading, the socket is paused.
import { Duplex } from "node:stream";

export interface RawSocket {
  write(d: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  remoteAddress: string;
}

export class SockDuplex extends Duplex {
  /** The client's address, read by the h2 front for X-Forwarded-For. */
  readonly remoteAddress: string;
  /**
   * Frames written in this turn of the event loop, sent as one socket write: the
   * http2 session writes each frame (HEADERS, DATA, trailers…) on its own,
   * and a syscall per frame was most of the h2 path's cost.
   */
  private queued: Buffer[] = [];
  private scheduled = false;
  /** What the socket did not take: sent at its drain, before anything queued after it. */
  private pending: Uint8Array | null = null;
  /** The write callback held while the socket is full (the session waits for it: backpressure). */
  private pendingCb: ((err?: Error | null) => void) | null = null;
  private paused = false;
  private dead = false;

  constructor(private readonly sock: RawSocket) {
    super();
    this.remoteAddress = sock.remoteAddress ?? "";
  }

  // The listen.ts handlers call these three (the same names as ClientConn's).
  onData(d: Buffer): void {
    // Bun reuses the buffer a data callback gets: the session may read it later.
    if (!this.push(Buffer.from(d)) && !this.paused) {
      this.paused = true;
      this.sock.pause();
    }
  }

  readonly out = {
    drain: (): void => {
      const rest = this.pending;
      if (!rest) return;
      if (!this.send(rest)) return;
      this.pending = null;
      if (this.queued.length) this.flush();
      if (!this.pending) this.settleWrite(null);
    },
  };

  onClose(): void {
    this.dead = true;
    this.push(null);
    if (!this.destroyed) this.destroy();
    this.settleWrite(new Error("socket closed"));
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.sock.resume();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.dead) return cb(new Error("socket closed"));
    this.queued.push(chunk);
    if (this.pending) {
      this.pendingCb = cb; // the socket is full: the session waits until it drains
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // After this I/O callback's ticks and microtasks: the session emits a
      // stream's HEADERS, DATA and trailers from separate ticks.
      setImmediate(this.flushSoon);
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.flush();
    this.sock.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.dead = true;
    this.sock.terminate();
    cb(err);
  }

  private readonly flushSoon = (): void => {
    this.scheduled = false;
    if (!this.pending) this.flush();
  };

  /** Writes what is queued as one chunk; what the socket does not take becomes `pending`. */
  private flush(): void {
    const q = this.queued;
    if (!q.length || this.dead) return;
    this.queued = [];
    const data = q.length === 1 ? q[0]! : Buffer.concat(q);
    if (!this.send(data)) return;
  }

  /** True when the socket took all of `data`. */
  private send(data: Uint8Array): boolean {
    const n = this.sock.write(data);
    if (n === data.byteLength) return true;
    if (n < 0) {
      this.dead = true;
      this.pending = null;
      this.settleWrite(new Error("socket closed"));
      return false;
    }
    this.pending = data.subarray(n);
    return false;
  }

  private settleWrite(err: Error | null): void {
    const cb = this.pendingCb;
    this.pendingCb = null;
    cb?.(err);
  }
}
