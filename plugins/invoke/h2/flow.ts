// One direction of one relayed h2 stream (relay.ts): the bytes one
// connection sent, passed on to the other within the receiver's windows
// (the stream's and the connection's), the rest waiting here; the sender is
// granted window back only for what was passed on, so a slow receiver slows
// the sender and at most our own window waits in memory. Then END_STREAM,
// or the trailers.
import type { Field } from "./hpack.ts";
import { FLAG, FRAME, STREAM_WINDOW, type H2Wire, type Sender } from "./wire.ts";

/**
 * One direction of one stream: bytes received from one connection waiting to
 * go out on the other, within the receiver's windows; the sender is granted
 * window back for what was passed on.
 */
export class Flow implements Sender {
  private queue: Uint8Array[] = [];
  /** The sender ended the stream (after `trailers`, if any). */
  ended = false;
  trailers: Field[] | null = null;
  /** END_STREAM (or a reset) went out: nothing more is sent. */
  done = false;
  /** Drop what comes (the call was refused or cut). */
  discard = false;
  /** The receiver's window for this stream. */
  window = 0;
  private ungranted = 0;
  /** Where it goes (null: not yet known — the attempt's connection, or the answer's start). */
  to: H2Wire | null = null;
  toId = 0;

  constructor(
    /** Where it comes from, and that connection's id for the stream (for window grants). */
    public from: H2Wire,
    public fromId: number,
    private readonly onDone: () => void,
  ) {}

  get empty(): boolean {
    return this.queue.length === 0;
  }

  /** Bytes of a DATA frame (`flowLen` counted against the sender's windows). */
  push(payload: Uint8Array, flowLen: number, end: boolean): void {
    if (end) this.ended = true;
    // Padding (flowLen beyond the payload) is granted back at once.
    if (flowLen > payload.byteLength) this.grant(flowLen - payload.byteLength);
    if (this.discard) {
      this.grant(payload.byteLength);
      return;
    }
    if (payload.byteLength) {
      if (this.queue.length === 0 && this.to && this.sendNow(payload, end)) return;
      this.queue.push(payload.slice());
    }
    this.pump();
  }

  /** The whole payload at once when the windows allow (the common case: no copy, no queue). */
  private sendNow(payload: Uint8Array, end: boolean): boolean {
    const to = this.to!;
    const n = payload.byteLength;
    if (n > this.window || n > to.sendWindow || n > to.peerMaxFrame) return false;
    const last = end && !this.trailers;
    to.write(FRAME.DATA, last ? FLAG.END_STREAM : 0, this.toId, payload);
    this.window -= n;
    to.sendWindow -= n;
    this.grant(n);
    if (last) this.finish();
    else if (end) this.pump();
    return true;
  }

  grow(increment: number): void {
    this.window += increment;
    this.pump();
  }

  unblocked(): void {
    this.pump();
  }

  /** Sends what the windows allow; END_STREAM (or the trailers) once all is out. */
  pump(): void {
    const to = this.to;
    if (!to || this.done) return;
    while (this.queue.length) {
      const room = Math.min(this.window, to.sendWindow, to.peerMaxFrame);
      if (room <= 0) {
        if (to.sendWindow <= 0) to.blocked.add(this);
        return;
      }
      const head = this.queue[0]!;
      const n = Math.min(room, head.byteLength);
      const lastChunk = n === head.byteLength && this.queue.length === 1;
      const endHere = lastChunk && this.ended && !this.trailers;
      to.write(FRAME.DATA, endHere ? FLAG.END_STREAM : 0, this.toId, head, 0, n);
      this.window -= n;
      to.sendWindow -= n;
      if (n === head.byteLength) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.grant(n);
      if (endHere) return this.finish();
    }
    if (!this.ended) return;
    if (this.trailers) to.writeHeaders(this.toId, this.trailers, true);
    else to.write(FRAME.DATA, FLAG.END_STREAM, this.toId, null);
    this.finish();
  }

  /** Gives the sender window back for `n` bytes passed on (connection and stream). */
  private grant(n: number): void {
    this.from.consumed(n);
    this.ungranted += n;
    if (this.ungranted >= STREAM_WINDOW / 2 && !this.ended && this.fromId) {
      this.from.windowUpdate(this.fromId, this.ungranted);
      this.ungranted = 0;
    }
  }

  private finish(): void {
    this.done = true;
    this.onDone();
  }

  /** Nothing more goes out (a reset either way): what waits is dropped, its window given back. */
  stop(): void {
    this.done = true;
    this.discard = true;
    for (const q of this.queue) this.from.consumed(q.byteLength);
    this.queue = [];
    this.to?.blocked.delete(this);
  }
}
