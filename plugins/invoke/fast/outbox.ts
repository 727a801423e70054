// Writes to a Bun socket with backpressure. `socket.write` takes what the
// kernel buffer can hold and returns how much; the rest waits here until the
// socket's `drain`, and the producer on the other side is paused meanwhile
// (`onBlocked` / `onFlushed`), so a fast sender never fills our memory with
// what a slow receiver has not read.

export interface WritableSocket {
  /** Bytes taken; -1 when closed. A string is written as UTF-8 (Outbox only passes ASCII ones). `offset`/`length`: a part of `data` (bytes only). */
  write(data: Uint8Array | string, offset?: number, length?: number): number;
}

export class Outbox {
  private pending: Uint8Array[] = [];
  /** Unwritable (closed): writes are dropped. */
  dead = false;

  constructor(
    private readonly sock: WritableSocket,
    private readonly onBlocked: () => void,
    private readonly onFlushed: () => void,
  ) {}

  get blocked(): boolean {
    return this.pending.length > 0;
  }

  /** Queues `data` (bytes, or an ASCII-only string) behind what is pending, or writes it now. Returns false while blocked. */
  write(data: Uint8Array | string): boolean {
    if (this.dead) return false;
    if (this.pending.length) {
      this.pending.push(typeof data === "string" ? latin1(data) : data);
      return false;
    }
    const n = this.sock.write(data);
    const len = typeof data === "string" ? data.length : data.byteLength;
    if (n === len) return true;
    if (n < 0) {
      this.dead = true;
      return false;
    }
    const bytes = typeof data === "string" ? latin1(data) : data;
    this.pending.push(n === 0 ? bytes : bytes.subarray(n));
    this.onBlocked();
    return false;
  }

  /**
   * Writes buf[0, len) of a buffer its owner reuses (fast/head-bytes.ts):
   * what cannot be written at once is copied, never kept as a view.
   */
  writeReused(buf: Uint8Array, len: number): boolean {
    if (this.dead) return false;
    if (this.pending.length) {
      this.pending.push(copyOf(buf, 0, len));
      return false;
    }
    const n = this.sock.write(buf, 0, len);
    if (n === len) return true;
    if (n < 0) {
      this.dead = true;
      return false;
    }
    this.pending.push(copyOf(buf, n, len));
    this.onBlocked();
    return false;
  }

  /** The socket can take more (its `drain` handler). */
  drain(): void {
    while (this.pending.length && !this.dead) {
      const head = this.pending[0]!;
      const n = this.sock.write(head);
      if (n < 0) {
        this.dead = true;
        this.pending = [];
        return;
      }
      if (n < head.byteLength) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
    if (!this.dead) this.onFlushed();
  }
}

/** A copy of b[from, to) (a Buffer's slice() would be a view). */
function copyOf(b: Uint8Array, from: number, to: number): Buffer {
  return Buffer.from(b.subarray(from, to));
}

/** A head (ASCII, or latin-1 obs-text) as the bytes it was received as. */
export function latin1(text: string): Buffer {
  return Buffer.from(text, "latin1");
}
