// One HTTP/2 connection at the frame level (RFC 9113), for the h2 relay:
// reads frames off a raw socket, keeps the connection's own state — HPACK
// decoding table, SETTINGS both ways, PING answers, connection flow-control
// windows, header blocks split over CONTINUATION frames, GOAWAY — and hands
// stream events (headers, data, resets, window updates) to its subclass:
// relay-client.ts (corral is the server: a client connection of the proxy
// listener) or relay-upstream.ts (corral is the client: an instance).
//
// Frames written during one turn of the event loop go out in one socket
// write (a microtask flushes every connection written to), and what the
// socket does not take waits for its drain.
import { HpackDecoder, HpackEncoder, HpackError, type Field } from "./hpack.ts";

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const ERR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;
const SETTING = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5, MAX_HEADER_LIST_SIZE: 6 } as const;

/** The largest frame payload we accept (the protocol's default: we never raise it). */
export const MAX_FRAME = 16_384;
/**
 * Our receive windows: what a peer may send before we forward it (and grant
 * more). The connection's is many streams' worth: one stream whose receiver
 * stalls (a slow client) holds at most its own window of an instance's
 * connection, not the whole of it, so the other calls to that instance go on.
 */
export const STREAM_WINDOW = 256 * 1024;
export const CONN_WINDOW = 4 * 1024 * 1024;
/** A header block (HEADERS + CONTINUATION) larger than this, still compressed, ends the connection. */
const MAX_BLOCK = 256 * 1024;
const MAX_HEADER_LIST = 64 * 1024;

export interface RawSocket {
  write(d: Uint8Array): number;
  end(): void;
  terminate(): void;
}

/** Connections with frames written this turn, flushed together in one microtask. */
let dirty: H2Wire[] = [];
let flushQueued = false;
function flushAll(): void {
  flushQueued = false;
  const list = dirty;
  dirty = [];
  for (const w of list) w.flush();
}

export class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** What a stream sender needs of the connection it writes to. */
export interface Sender {
  /** Called when the connection's send window grew (it was blocked on it). */
  unblocked(): void;
}

export abstract class H2Wire {
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: each new stream's send window. */
  peerInitialWindow = 65_535;
  /** The peer's SETTINGS_MAX_FRAME_SIZE: our largest DATA / header fragment to it. */
  peerMaxFrame = 16_384;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
  peerMaxStreams = Infinity;
  /** Connection-level send window. */
  sendWindow = 65_535;
  /** Connection-level receive window left, and bytes consumed not yet granted back. */
  private recvWindow = 65_535;
  private recvUngranted = 0;
  /** Senders waiting for the connection's send window. */
  readonly blocked = new Set<Sender>();
  readonly encoder: HpackEncoder;
  private readonly decoder = new HpackDecoder(4096, MAX_HEADER_LIST);
  /** A header block in progress: its stream, first frame's flags, fragments. */
  private blockStream = 0;
  private blockEnd = false;
  private blockParts: Uint8Array[] = [];
  private blockBytes = 0;
  private leftover: Uint8Array | null = null;
  /** Bytes to skip before frames (the client's connection preface). */
  protected skip = 0;
  /** The peer's first SETTINGS frame arrived. */
  settled = false;
  closed = false;

  // Outgoing frames of this turn.
  private batch = Buffer.allocUnsafe(16 * 1024);
  private outLen = 0;
  /** What the socket did not take, waiting for its drain. */
  private pending: Uint8Array[] = [];

  constructor(
    protected sock: RawSocket,
    encoder: HpackEncoder,
  ) {
    this.encoder = encoder;
  }

  // ---- stream events, for the subclass

  protected abstract onHeaders(id: number, fields: Field[], endStream: boolean): void;
  /** `payload` is valid during the call only; `flowLen` counts padding too. */
  protected abstract onDataFrame(id: number, payload: Uint8Array, flowLen: number, endStream: boolean): void;
  protected abstract onReset(id: number, code: number): void;
  protected abstract onStreamWindow(id: number, increment: number): void;
  protected abstract onInitialWindowChange(delta: number): void;
  protected abstract onGoaway(lastId: number, code: number): void;
  /** A header list over MAX_HEADER_LIST on a stream. */
  protected abstract onHeadersTooLarge(id: number): void;
  /** The first SETTINGS frame of the peer (upstream: the instance speaks h2). */
  protected onSettled(): void {}
  /** The socket is gone; every stream with it. */
  protected abstract onGone(): void;

  // ---- input

  /** Bytes from the socket (the buffer may be reused after this returns). */
  bytes(d: Uint8Array): void {
    if (this.closed) return;
    let buf = d;
    if (this.leftover) {
      const joined = new Uint8Array(this.leftover.byteLength + d.byteLength);
      joined.set(this.leftover);
      joined.set(d, this.leftover.byteLength);
      buf = joined;
      this.leftover = null;
    }
    let p = 0;
    if (this.skip) {
      const n = Math.min(this.skip, buf.byteLength);
      this.skip -= n;
      p = n;
    }
    try {
      while (!this.closed && buf.byteLength - p >= 9) {
        const len = (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
        const type = buf[p + 3]!;
        if (!this.settled && type !== FRAME.SETTINGS) throw new ConnectionError(ERR.PROTOCOL_ERROR, "the first frame is not SETTINGS");
        if (len > MAX_FRAME) throw new ConnectionError(ERR.FRAME_SIZE_ERROR, `a frame of ${len} bytes`);
        if (buf.byteLength - p < 9 + len) break;
        const flags = buf[p + 4]!;
        const id = ((buf[p + 5]! & 0x7f) << 24) | (buf[p + 6]! << 16) | (buf[p + 7]! << 8) | buf[p + 8]!;
        this.frame(type, flags, id, buf.subarray(p + 9, p + 9 + len));
        p += 9 + len;
      }
    } catch (err) {
      if (err instanceof ConnectionError) return this.fail(err.code, err.message);
      if (err instanceof HpackError) return this.fail(ERR.COMPRESSION_ERROR, err.message);
      throw err;
    }
    if (p < buf.byteLength && !this.closed) this.leftover = buf.slice(p);
  }

  private frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    // Between HEADERS and the end of its block only CONTINUATION frames of that stream may come.
    if (this.blockStream && (type !== FRAME.CONTINUATION || id !== this.blockStream)) throw new ConnectionError(ERR.PROTOCOL_ERROR, "expected CONTINUATION");
    switch (type) {
      case FRAME.DATA: {
        if (id === 0) throw new ConnectionError(ERR.PROTOCOL_ERROR, "DATA on stream 0");
        const len = payload.byteLength;
        this.recvWindow -= len;
        if (this.recvWindow < 0) throw new ConnectionError(ERR.FLOW_CONTROL_ERROR, "connection window exceeded");
        let body = payload;
        if (flags & FLAG.PADDED) {
          const pad = payload[0] ?? 0;
          if (len < 1 || pad >= len) throw new ConnectionError(ERR.PROTOCOL_ERROR, "bad padding");
          body = payload.subarray(1, len - pad);
        }
        return this.onDataFrame(id, body, len, (flags & FLAG.END_STREAM) !== 0);
      }
      case FRAME.HEADERS: {
        if (id === 0) throw new ConnectionError(ERR.PROTOCOL_ERROR, "HEADERS on stream 0");
        let from = 0;
        let to = payload.byteLength;
        if (flags & FLAG.PADDED) {
          from = 1;
          to -= payload[0] ?? 0;
        }
        if (flags & FLAG.PRIORITY) from += 5;
        if (from > to) throw new ConnectionError(ERR.PROTOCOL_ERROR, "bad HEADERS padding");
        const fragment = payload.subarray(from, to);
        const end = (flags & FLAG.END_STREAM) !== 0;
        if (flags & FLAG.END_HEADERS) return this.block(id, end, fragment);
        this.blockStream = id;
        this.blockEnd = end;
        this.blockParts = [fragment.slice()];
        this.blockBytes = fragment.byteLength;
        return;
      }
      case FRAME.CONTINUATION: {
        if (!this.blockStream) throw new ConnectionError(ERR.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
        this.blockBytes += payload.byteLength;
        if (this.blockBytes > MAX_BLOCK) throw new ConnectionError(ERR.ENHANCE_YOUR_CALM, "header block too large");
        this.blockParts.push(payload.slice());
        if (!(flags & FLAG.END_HEADERS)) return;
        const all = new Uint8Array(this.blockBytes);
        let at = 0;
        for (const part of this.blockParts) {
          all.set(part, at);
          at += part.byteLength;
        }
        const sid = this.blockStream;
        this.blockStream = 0;
        this.blockParts = [];
        return this.block(sid, this.blockEnd, all);
      }
      case FRAME.RST_STREAM:
        if (id === 0 || payload.byteLength !== 4) throw new ConnectionError(ERR.PROTOCOL_ERROR, "bad RST_STREAM");
        return this.onReset(id, readU32(payload, 0));
      case FRAME.SETTINGS:
        if (id !== 0) throw new ConnectionError(ERR.PROTOCOL_ERROR, "SETTINGS on a stream");
        if (flags & FLAG.ACK) return;
        if (payload.byteLength % 6) throw new ConnectionError(ERR.FRAME_SIZE_ERROR, "bad SETTINGS length");
        this.settings(payload);
        this.write(FRAME.SETTINGS, FLAG.ACK, 0, null);
        if (!this.settled) {
          this.settled = true;
          this.onSettled();
        }
        return;
      case FRAME.PING:
        if (id !== 0 || payload.byteLength !== 8) throw new ConnectionError(ERR.PROTOCOL_ERROR, "bad PING");
        if (!(flags & FLAG.ACK)) this.write(FRAME.PING, FLAG.ACK, 0, payload);
        return;
      case FRAME.GOAWAY:
        if (payload.byteLength < 8) throw new ConnectionError(ERR.FRAME_SIZE_ERROR, "bad GOAWAY");
        return this.onGoaway(readU32(payload, 0) & 0x7fffffff, readU32(payload, 4));
      case FRAME.WINDOW_UPDATE: {
        if (payload.byteLength !== 4) throw new ConnectionError(ERR.FRAME_SIZE_ERROR, "bad WINDOW_UPDATE");
        const inc = readU32(payload, 0) & 0x7fffffff;
        if (id !== 0) return this.onStreamWindow(id, inc);
        if (inc === 0) throw new ConnectionError(ERR.PROTOCOL_ERROR, "a zero window increment");
        this.sendWindow += inc;
        if (this.sendWindow > 0x7fffffff) throw new ConnectionError(ERR.FLOW_CONTROL_ERROR, "window over 2^31-1");
        if (this.blocked.size) {
          const waiting = [...this.blocked];
          this.blocked.clear();
          for (const s of waiting) s.unblocked();
        }
        return;
      }
      case FRAME.PUSH_PROMISE:
        // We announce ENABLE_PUSH 0 to instances, and clients may never push.
        throw new ConnectionError(ERR.PROTOCOL_ERROR, "PUSH_PROMISE");
      default:
        return; // PRIORITY and unknown types are ignored (RFC 9113 §5.5)
    }
  }

  private block(id: number, end: boolean, fragment: Uint8Array): void {
    let fields: Field[];
    try {
      fields = this.decoder.decode(fragment);
    } catch (err) {
      if (err instanceof HpackError && err.tooLarge) return this.onHeadersTooLarge(id);
      throw err;
    }
    this.onHeaders(id, fields, end);
  }

  private settings(p: Uint8Array): void {
    for (let i = 0; i < p.byteLength; i += 6) {
      const key = (p[i]! << 8) | p[i + 1]!;
      const v = readU32(p, i + 2);
      if (key === SETTING.INITIAL_WINDOW_SIZE) {
        if (v > 0x7fffffff) throw new ConnectionError(ERR.FLOW_CONTROL_ERROR, "initial window over 2^31-1");
        const delta = v - this.peerInitialWindow;
        this.peerInitialWindow = v;
        if (delta) this.onInitialWindowChange(delta);
      } else if (key === SETTING.MAX_FRAME_SIZE) {
        if (v < 16_384 || v > 16_777_215) throw new ConnectionError(ERR.PROTOCOL_ERROR, "bad MAX_FRAME_SIZE");
        this.peerMaxFrame = v;
      } else if (key === SETTING.MAX_CONCURRENT_STREAMS) this.peerMaxStreams = v;
      // HEADER_TABLE_SIZE: our encoder never uses the peer's table. ENABLE_PUSH: we never push.
    }
  }

  /** `n` bytes of DATA were passed on (or dropped): grant the connection window back once half of it is used. */
  consumed(n: number): void {
    this.recvUngranted += n;
    if (this.recvUngranted < CONN_WINDOW / 2) return;
    this.windowUpdate(0, this.recvUngranted);
    this.recvWindow += this.recvUngranted;
    this.recvUngranted = 0;
  }

  // ---- output

  /** Our SETTINGS and a connection window of CONN_WINDOW (after the preface, for a client). */
  protected hello(settings: [number, number][]): void {
    const p = new Uint8Array(settings.length * 6);
    settings.forEach(([k, v], i) => {
      p[i * 6] = k >> 8;
      p[i * 6 + 1] = k & 0xff;
      writeU32(p, i * 6 + 2, v);
    });
    this.write(FRAME.SETTINGS, 0, 0, p);
    this.windowUpdate(0, CONN_WINDOW - 65_535);
    this.recvWindow = CONN_WINDOW;
  }

  static readonly SETTING = SETTING;

  write(type: number, flags: number, id: number, payload: Uint8Array | null, from = 0, to = payload?.byteLength ?? 0): void {
    if (this.closed) return;
    const len = to - from;
    this.room(9 + len);
    const b = this.batch;
    let p = this.outLen;
    b[p] = len >>> 16;
    b[p + 1] = (len >>> 8) & 0xff;
    b[p + 2] = len & 0xff;
    b[p + 3] = type;
    b[p + 4] = flags;
    b[p + 5] = (id >>> 24) & 0x7f;
    b[p + 6] = (id >>> 16) & 0xff;
    b[p + 7] = (id >>> 8) & 0xff;
    b[p + 8] = id & 0xff;
    p += 9;
    if (len) {
      if (len < 64) for (let i = from; i < to; i++) b[p++] = payload![i]!;
      else {
        b.set(payload!.subarray(from, to), p);
        p += len;
      }
    }
    this.outLen = p;
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushAll);
      }
    }
  }
  private queued = false;

  /** A header block as HEADERS (+ CONTINUATION) frames no larger than the peer takes. */
  writeHeaders(id: number, fields: readonly Field[], endStream: boolean): void {
    const block = this.encoder.encode(fields);
    const max = this.peerMaxFrame;
    const es = endStream ? FLAG.END_STREAM : 0;
    if (block.byteLength <= max) return this.write(FRAME.HEADERS, es | FLAG.END_HEADERS, id, block);
    this.write(FRAME.HEADERS, es, id, block, 0, max);
    for (let at = max; at < block.byteLength; at += max) {
      const to = Math.min(block.byteLength, at + max);
      this.write(FRAME.CONTINUATION, to === block.byteLength ? FLAG.END_HEADERS : 0, id, block, at, to);
    }
  }

  windowUpdate(id: number, inc: number): void {
    const p = new Uint8Array(4);
    writeU32(p, 0, inc);
    this.write(FRAME.WINDOW_UPDATE, 0, id, p);
  }

  reset(id: number, code: number): void {
    const p = new Uint8Array(4);
    writeU32(p, 0, code);
    this.write(FRAME.RST_STREAM, 0, id, p);
  }

  goaway(lastId: number, code: number): void {
    const p = new Uint8Array(8);
    writeU32(p, 0, lastId);
    writeU32(p, 4, code);
    this.write(FRAME.GOAWAY, 0, 0, p);
  }

  private room(n: number): void {
    if (this.outLen + n <= this.batch.byteLength) return;
    const next = Buffer.allocUnsafe(Math.max(this.batch.byteLength * 2, this.outLen + n));
    this.batch.copy(next, 0, 0, this.outLen);
    this.batch = next;
  }

  /** Sends what this turn wrote, in one socket write. */
  flush(): void {
    this.queued = false;
    const n = this.outLen;
    if (!n || this.closed) return;
    this.outLen = 0;
    const data = this.batch.subarray(0, n);
    if (this.pending.length) {
      this.pending.push(data.slice());
      return;
    }
    const w = this.sock.write(data);
    if (w === n || w < 0) return;
    this.pending.push(data.slice(w));
    // A batch that grew large is not kept around.
    if (this.batch.byteLength > 256 * 1024) this.batch = Buffer.allocUnsafe(16 * 1024);
  }

  /** The socket's drain: what it did not take before. */
  drain(): void {
    while (this.pending.length && !this.closed) {
      const head = this.pending[0]!;
      const n = this.sock.write(head);
      if (n < 0) return void (this.pending = []);
      if (n < head.byteLength) return void (this.pending[0] = head.subarray(n));
      this.pending.shift();
    }
  }

  /** A connection error: GOAWAY with its code, then the socket is closed. */
  fail(code: number, why: string): void {
    if (this.closed) return;
    this.lastError = why;
    this.goaway(this.lastPeerStream(), code);
    this.flush();
    this.closed = true;
    this.sock.end();
    this.gone();
  }
  lastError = "";

  /** The socket closed (by either side): the streams are gone. Idempotent. */
  gone(): void {
    this.closed = true;
    if (this.goneDone) return;
    this.goneDone = true;
    this.pending = [];
    this.onGone();
  }
  private goneDone = false;

  /** The highest stream id the peer opened (for GOAWAY). */
  protected lastPeerStream(): number {
    return 0;
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}
