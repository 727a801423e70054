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
  private pending: Uint8Array | null = null;
  private pendingCb: ((err?: Error | null) => void) | null = null;
  private paused = false;

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
      const n = this.sock.write(rest);
      if (n < 0) return this.settleWrite(new Error("socket closed"));
      if (n < rest.byteLength) {
        this.pending = rest.subarray(n);
        return;
      }
      this.settleWrite(null);
    },
  };

  onClose(): void {
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
    const n = this.sock.write(chunk);
    if (n === chunk.byteLength) return cb();
    if (n < 0) return cb(new Error("socket closed"));
    this.pending = chunk.subarray(n);
    this.pendingCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sock.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock.terminate();
    cb(err);
  }

  private settleWrite(err: Error | null): void {
    const cb = this.pendingCb;
    this.pending = null;
    this.pendingCb = null;
    cb?.(err);
  }
}
