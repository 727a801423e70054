// A request head written as bytes into a buffer kept for the connection's
// whole life: what goes to an instance is copied from the bytes the client
// sent and written around them, with no string built per request. Strings
// made per request (slices, template pieces, the flattened head) were most
// of the garbage a proxied call left, and garbage is what sets how often the
// one JavaScript thread stops for a collection: the proxy's p99 under load
// (docs/invoke.md, "Performance").
//
// Heads are latin-1 (RFC 9112: obs-text is bytes, not UTF-8): text is
// written one byte per character, as the head was read.
import type { PrefixSink } from "./http1.ts";

/** Buffers above this are given up after use (one large head must not pin its size to the connection for good). */
const KEEP_BYTES = 16 * 1024;
const INITIAL_BYTES = 1024;
/**
 * Pieces up to this length are copied by a loop: for the short ones a head
 * is made of (a method, an address, a field line), Buffer's native write
 * and copy cost more in the call than in the copying (measured 2x).
 */
const SHORT = 64;

export class HeadBytes implements PrefixSink {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  /** Bytes written: the head is buf[0, len). */
  len = 0;
  /** The received head's bytes while a prefix is written from it (part()). */
  src: Buffer | null = null;

  /** Starts over (a buffer grown past KEEP_BYTES for one large head goes back to the initial size). */
  clear(): void {
    if (this.buf.byteLength > KEEP_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    this.len = 0;
  }

  /** Room for `n` more bytes (the buffer doubles; what is written stays). */
  private room(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Text of one byte per character (latin-1: what a head's text is); `bytes`: its encoding made once. */
  text(s: string, bytes?: Buffer): void {
    if (bytes) return this.bytes(bytes);
    const n = s.length;
    this.room(n);
    if (n > SHORT) {
      this.len += this.buf.write(s, this.len, n, "latin1");
      return;
    }
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i); // latin-1: the low byte, as Buffer's write
    this.len = at;
  }

  /** Text as UTF-8 (what corral adds from the catalog, e.g. an instance's ID, which need not be latin-1). */
  utf8(s: string): void {
    this.room(s.length * 3);
    this.len += this.buf.write(s, this.len, "utf8");
  }

  /** Bytes written once (a constant's encoding): a copy, cheaper than encoding the same text again. */
  bytes(b: Buffer): void {
    this.copy(b, 0, b.byteLength);
  }

  /** src[start, end). */
  copy(src: Buffer, start: number, end: number): void {
    this.room(end - start);
    if (end - start > SHORT) {
      this.len += src.copy(this.buf, this.len, start, end);
      return;
    }
    const buf = this.buf;
    let at = this.len;
    for (let i = start; i < end; i++) buf[at++] = src[i]!;
    this.len = at;
  }

  /** src[from, to): a piece of the received head, as received. */
  part(from: number, to: number): void {
    this.copy(this.src!, from, to);
  }
}
