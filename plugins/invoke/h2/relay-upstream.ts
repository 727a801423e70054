// The relay's connections to instances: one h2c connection per instance
// (Bun.connect, frames handled by wire.ts), shared by every call to it, made
// on the first call and counted as up at the instance's first SETTINGS frame
// — what tells an h2 server from an HTTP/1.1 one, which answers the preface
// with a 400 ("protocol": the caller's protocol, not the instance's health).
// Closed after IDLE_MS without a stream, dropped when the instance closes it
// or sends GOAWAY (its streams past the GOAWAY's last id are reset).
import type { Endpoint } from "../pool.ts";
import type { Field } from "./hpack.ts";
import { HpackEncoder } from "./hpack.ts";
import { ERR, H2Wire, STREAM_WINDOW, type RawSocket } from "./wire.ts";

/** A stream's events as the relay (relay.ts) handles them. */
export interface UpstreamStream {
  upHeaders(fields: Field[], endStream: boolean): void;
  upData(payload: Uint8Array, flowLen: number, endStream: boolean): void;
  /** Reset by the instance, or its connection is gone (INTERNAL_ERROR), or past a GOAWAY (REFUSED_STREAM). */
  upReset(code: number): void;
  upWindow(increment: number): void;
}

export type UpstreamResult = UpstreamH2 | "refused" | "protocol";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const IDLE_MS = 60_000;
const SWEEP_MS = 5_000;
/** Stream ids are 31 bits: a connection that has used most of them takes no new stream (a new connection is made). */
const LAST_STREAM_ID = 0x7fff_0000;

export class UpstreamH2 extends H2Wire {
  readonly streams = new Map<number, UpstreamStream>();
  private nextId = 1;
  /** GOAWAY received or ids used up: no new stream. */
  draining = false;
  /** performance.now() when the last stream closed (idle sweep). */
  idleSince = performance.now();

  constructor(
    sock: RawSocket,
    readonly key: string,
    private readonly settledCb: (c: UpstreamH2) => void,
    private readonly goneCb: (c: UpstreamH2) => void,
  ) {
    super(sock, new HpackEncoder());
    // The client preface, then our settings: no push; a stream window of STREAM_WINDOW.
    sock.write(PREFACE);
    this.hello([[H2Wire.SETTING.ENABLE_PUSH, 0], [H2Wire.SETTING.INITIAL_WINDOW_SIZE, STREAM_WINDOW], [H2Wire.SETTING.MAX_HEADER_LIST_SIZE, 64 * 1024]]);
  }

  get usable(): boolean {
    return !this.closed && !this.draining && this.settled;
  }

  /** Opens a stream with `fields` (pseudo-headers first); returns its id. */
  open(s: UpstreamStream, fields: readonly Field[], endStream: boolean): number {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > LAST_STREAM_ID) this.draining = true;
    this.streams.set(id, s);
    this.writeHeaders(id, fields, endStream);
    return id;
  }

  /** Attempts waiting for a stream under the instance's SETTINGS_MAX_CONCURRENT_STREAMS. */
  private waiting: Array<() => void> = [];

  /** Calls `open` when a new stream is allowed: at once, or when one closes (or the connection is gone: `open` then finds it unusable). */
  whenRoom(open: () => void): void {
    if (this.streams.size < this.peerMaxStreams || this.closed) return open();
    this.waiting.push(open);
  }

  /** The stream is done on our side and the instance's (or reset): forget it. */
  release(id: number): void {
    if (!this.streams.delete(id)) return;
    if (this.streams.size === 0) this.idleSince = performance.now();
    // A waiter whose attempt timed out meanwhile opens nothing: the next one gets the room.
    while (this.waiting.length && this.streams.size < this.peerMaxStreams && !this.closed) this.waiting.shift()!();
  }

  protected override onSettled(): void {
    this.settledCb(this);
  }
  protected onHeaders(id: number, fields: Field[], endStream: boolean): void {
    this.streams.get(id)?.upHeaders(fields, endStream);
  }
  protected onDataFrame(id: number, payload: Uint8Array, flowLen: number, endStream: boolean): void {
    const s = this.streams.get(id);
    if (s) s.upData(payload, flowLen, endStream);
    else this.consumed(flowLen); // a stream we gave up on: its bytes still count against the connection's window
  }
  protected onReset(id: number, code: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.release(id);
    s.upReset(code);
  }
  protected onStreamWindow(id: number, increment: number): void {
    this.streams.get(id)?.upWindow(increment);
  }
  protected onInitialWindowChange(delta: number): void {
    for (const s of this.streams.values()) s.upWindow(delta);
  }
  protected onHeadersTooLarge(id: number): void {
    this.reset(id, ERR.CANCEL);
    this.onReset(id, ERR.INTERNAL_ERROR);
  }
  protected onGoaway(lastId: number): void {
    this.draining = true;
    this.goneCb(this); // no new stream here; the pool makes a new connection
    for (const [id, s] of [...this.streams]) {
      if (id <= lastId) continue;
      this.release(id);
      s.upReset(ERR.REFUSED_STREAM);
    }
    if (this.streams.size === 0) this.close();
  }
  protected onGone(): void {
    this.goneCb(this);
    const all = [...this.streams.values()];
    this.streams.clear();
    for (const s of all) s.upReset(ERR.INTERNAL_ERROR);
    const waiting = this.waiting;
    this.waiting = [];
    for (const open of waiting) open(); // each finds the connection unusable: its attempt fails as reset
  }

  close(): void {
    if (this.closed) return;
    this.goaway(0, ERR.NO_ERROR);
    this.flush();
    this.sock.end();
    this.gone();
  }
}

interface BunSocket extends RawSocket {
  setNoDelay(on: boolean): boolean;
  data: UpstreamH2 | null;
}

export class UpstreamH2Pool {
  private readonly live = new Map<string, UpstreamH2>();
  private readonly connecting = new Map<string, Array<(r: UpstreamResult) => void>>();
  private readonly all = new Set<UpstreamH2>();
  private stopped = false;
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_MS);

  constructor() {
    (this.sweeper as { unref?: () => void }).unref?.();
  }

  /** Calls `ready` with the instance's connection — at once when one is up — or why there is none (nothing was sent). */
  get(ep: Endpoint, ready: (r: UpstreamResult) => void): void {
    const key = ep.hostPort;
    const c = this.live.get(key);
    if (c && c.usable) return ready(c);
    const waiting = this.connecting.get(key);
    if (waiting) return void waiting.push(ready);
    if (this.stopped) return ready("refused");
    this.connecting.set(key, [ready]);
    this.connect(ep, key);
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const c of this.all) c.close();
    this.all.clear();
    this.live.clear();
  }

  private settle(key: string, r: UpstreamResult): void {
    const list = this.connecting.get(key) ?? [];
    this.connecting.delete(key);
    for (const f of list) f(r);
  }

  private connect(ep: Endpoint, key: string): void {
    const Bun = (globalThis as { Bun: { connect(o: unknown): Promise<BunSocket> } }).Bun;
    const settled = (c: UpstreamH2): void => {
      if (this.stopped) return c.close();
      this.live.set(key, c);
      this.settle(key, c);
    };
    const gone = (c: UpstreamH2): void => {
      if (this.live.get(key) === c) this.live.delete(key);
      if (c.closed) this.all.delete(c);
      // Gone before its SETTINGS: it answered in something else than HTTP/2 (or closed at once).
      if (!c.settled && this.connecting.has(key)) this.settle(key, "protocol");
    };
    Bun.connect({
      hostname: ep.spec.address, port: ep.spec.port, data: null,
      socket: {
        // The connection object exists before any byte can arrive (an h2 server may send its SETTINGS at once).
        open: (s: BunSocket) => {
          s.setNoDelay(true);
          const conn = (s.data = new UpstreamH2(s, key, settled, gone));
          this.all.add(conn);
          if (this.stopped) conn.close();
        },
        data: (s: BunSocket, d: Buffer) => s.data?.bytes(d),
        drain: (s: BunSocket) => s.data?.drain(),
        close: (s: BunSocket) => s.data?.gone(),
        error: (s: BunSocket) => {
          s.terminate();
          s.data?.gone();
        },
      },
    }).catch(() => this.settle(key, "refused"));
  }

  /** Closes connections with no stream for IDLE_MS. */
  private sweep(): void {
    const cutoff = performance.now() - IDLE_MS;
    for (const c of this.all) if (c.streams.size === 0 && c.idleSince < cutoff) c.close();
  }
}
