// Connections to instances: a keep-alive pool per instance over Bun.connect.
//
// An idle connection is closed by us after IDLE_SECONDS (give or take a
// sweep), before typical servers give up on it (Node 5 s, Bun 10 s), so a
// reused one is rarely stale. When it is anyway, transport.ts sends a
// replayable request once more on a fresh connection. The mesh's pool
// (mesh-upstream.ts) keeps its connections longer: a new one there is an
// mTLS handshake, and its peer (a corral mesh listener) keeps them 120 s.
//
// An attempt that finds no idle connection dials one, and meanwhile takes
// the first connection of its key that another attempt releases, whichever
// comes first (as Go's http.Transport does): at a burst, calls go out on the
// connections that free up within the next moment instead of each waiting
// for a connect — for the mesh, a TLS handshake of a few ms of CPU on both
// nodes. The dial goes on, and its connection serves the next attempt that
// waits (which then opens none of its own) or joins the pool.
import type { Endpoint } from "../pool.ts";
import { Outbox } from "./outbox.ts";

/** Seconds an idle connection to an instance is kept (the default of UpstreamPool). */
export const IDLE_SECONDS = 4;
/** How often idle connections are looked at (a per-request socket timer would cost a native call each time). */
const SWEEP_MS = 1000;
/** Idle connections kept per instance; more are closed when released. */
const MAX_IDLE_PER_INSTANCE = 256;

/** Who currently reads a connection's events. */
export interface ConnHandler {
  data(d: Buffer): void;
  closed(err?: unknown): void;
}

export class UpstreamConn {
  socket!: BunSocket;
  handler: ConnHandler | null = null;
  /** Served an exchange before (a failure with no answer may just be a stale keep-alive). */
  reused = false;
  /** The pool's sweep count when it went idle. */
  idleSweep = 0;
  /** ms since the epoch past which it is not reused (its client certificate is due for renewal); 0 = no limit. */
  notAfter = 0;
  /** We paused reading it (a slow client): resume before reuse. */
  paused = false;
  closed = false;
  readonly out: Outbox;

  constructor(
    readonly key: string,
    onBlocked: () => void,
    onFlushed: () => void,
  ) {
    this.out = new Outbox({ write: (d, o, l) => (o === undefined ? this.socket.write(d) : this.socket.write(d, o, l)) }, onBlocked, onFlushed);
  }

  /** The current streamed request body pauses and resumes with our send buffer. */
  bodyPaused: ((paused: boolean) => void) | null = null;

  /** Closes it; whoever reads it hears nothing more (we chose to close, nobody needs telling). */
  close(): void {
    this.handler = null;
    if (this.closed) return;
    this.closed = true;
    this.out.dead = true;
    this.socket.terminate();
  }
}

/** What an attempt is for, beyond the instance: the mesh's pool keys its connections by the caller (fast/mesh-upstream.ts). */
export interface Route {
  /** The service called (lower case). */
  service: string;
  /** The calling service whose certificate the connection presents ("" = none). */
  caller: string;
}
export const NO_ROUTE: Route = { service: "", caller: "" };

/** The socket callbacks the pool needs on every connection it opens. */
export interface SocketHandlers {
  data(s: BunSocket, d: Buffer): void;
  drain(s: BunSocket): void;
  close(s: BunSocket, err?: unknown): void;
  error(s: BunSocket, err: unknown): void;
}

export interface BunSocket {
  write(d: Uint8Array | string, o?: number, l?: number): number;
  setNoDelay(on: boolean): boolean;
  terminate(): void;
  pause(): void;
  resume(): void;
  end(): void;
  data: UpstreamConn;
}

/** An attempt waiting for a connection of its key: its own dial's, or the first one released before. */
interface Waiter {
  resolve(c: UpstreamConn): void;
  reject(err: unknown): void;
  served: boolean;
}

export class UpstreamPool {
  private idle = new Map<string, UpstreamConn[]>();
  private all = new Set<UpstreamConn>();
  /** Per key, the attempts waiting for a connection, oldest first. */
  private waiting = new Map<string, Waiter[]>();
  /** Per key, dials under way: never fewer than the attempts waiting (each is covered by one). */
  private dialing = new Map<string, number>();
  private stopped = false;
  private sweeps = 0;
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_MS);
  /** Attempts waiting for an answer's head, for their per-try timeouts. */
  readonly deadlines = new Deadlines();

  constructor(
    /** Seconds an idle connection is kept (give or take a sweep). */
    private readonly idleSeconds = IDLE_SECONDS,
  ) {}

  /** Closes connections idle for idleSeconds (oldest sit at the bottom of each stack). */
  private sweep(): void {
    this.sweeps++;
    const cutoff = this.sweeps - Math.ceil((this.idleSeconds * 1000) / SWEEP_MS);
    for (const list of this.idle.values()) {
      let n = 0;
      while (n < list.length && list[n]!.idleSweep <= cutoff) list[n++]!.close();
      if (n) list.splice(0, n);
    }
  }

  /** A pooled connection to `ep`, or a new one. Rejects like fetch does (code ECONNREFUSED...). */
  acquire(ep: Endpoint, route: Route = NO_ROUTE): UpstreamConn | Promise<UpstreamConn> {
    const key = this.keyOf(ep, route);
    const list = this.idle.get(key);
    while (list && list.length) {
      const c = list.pop()!;
      if (this.usable(c)) return c;
    }
    return this.dialOrTakeReleased(ep, route, key);
  }

  /** Not closed, and not made with a certificate due for renewal (the mesh: a new connection presents the renewed one). */
  private usable(c: UpstreamConn): boolean {
    if (c.closed) return false;
    if (c.notAfter !== 0 && Date.now() > c.notAfter) {
      c.close();
      return false;
    }
    return true;
  }

  /**
   * A new connection, or the first of `key` released before it is ready (see the top of this file). When
   * more dials are under way than attempts wait (their attempts took released connections), the attempt
   * waits for one of those instead of opening yet another: a burst makes no more connections than it needs.
   */
  private dialOrTakeReleased(ep: Endpoint, route: Route, key: string): Promise<UpstreamConn> {
    return new Promise<UpstreamConn>((resolve, reject) => {
      const w: Waiter = { resolve, reject, served: false };
      let queue = this.waiting.get(key);
      if (!queue) this.waiting.set(key, (queue = []));
      const spare = (this.dialing.get(key) ?? 0) > queue.length;
      queue.push(w);
      if (!spare) this.dialFor(ep, route, key, w);
    });
  }

  private dialFor(ep: Endpoint, route: Route, key: string, w: Waiter): void {
    this.dialing.set(key, (this.dialing.get(key) ?? 0) + 1);
    const settled = () => {
      const n = this.dialing.get(key)! - 1;
      if (n > 0) this.dialing.set(key, n);
      else this.dialing.delete(key);
    };
    this.open(ep, route, key).then(
      (c) => {
        settled();
        if (!w.served) return this.serve(key, w, c);
        this.park(c); // its attempt took a released connection: this one serves the next waiting attempt, or idles
      },
      (err) => {
        settled();
        if (!w.served) {
          this.unwait(key, w);
          return w.reject(err);
        }
        // Its attempt was served, but a later one counted on this dial: that one's connect failed (the newest
        // waiting attempt without a dial of its own), as its own dial's failure would have.
        const queue = this.waiting.get(key);
        if (!queue || queue.length <= (this.dialing.get(key) ?? 0)) return;
        const last = queue[queue.length - 1]!;
        this.unwait(key, last);
        last.served = true;
        last.reject(err);
      },
    );
  }

  private serve(key: string, w: Waiter, c: UpstreamConn): void {
    this.unwait(key, w);
    w.served = true;
    w.resolve(c);
  }

  private unwait(key: string, w: Waiter): void {
    const queue = this.waiting.get(key);
    if (!queue) return;
    const at = queue.indexOf(w);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.waiting.delete(key);
  }

  /** A usable connection with no attempt on it: to the oldest waiter of its key, else idle. */
  private park(c: UpstreamConn): void {
    if (this.stopped) return c.close();
    if (!this.usable(c)) return;
    const queue = this.waiting.get(c.key);
    if (queue) return this.serve(c.key, queue[0]!, c);
    let list = this.idle.get(c.key);
    if (!list) this.idle.set(c.key, (list = []));
    if (list.length >= MAX_IDLE_PER_INSTANCE) return c.close();
    c.idleSweep = this.sweeps;
    list.push(c);
  }

  /** Always a new connection (after a stale pooled one). */
  connect(ep: Endpoint, route: Route = NO_ROUTE): Promise<UpstreamConn> {
    return this.open(ep, route, this.keyOf(ep, route));
  }

  /**
   * The head's last field lines for an attempt to `ep` (Host; the mesh's pool
   * adds its own), as UTF-8 bytes encoded once per endpoint: copying them
   * costs a third of encoding the string again on every attempt.
   */
  hostLines(ep: Endpoint, _route: Route): Buffer {
    return (ep.hostLineBytes ??= Buffer.from(ep.hostLine, "utf8")) as Buffer;
  }

  /** Which idle connections may carry an attempt to `ep` for `route`: the instance's. */
  protected keyOf(ep: Endpoint, _route: Route): string {
    return ep.base;
  }

  /** Opens the socket (plain TCP to the instance); resolves once it may carry a request. */
  protected dial(ep: Endpoint, _route: Route, conn: UpstreamConn, handlers: SocketHandlers): Promise<BunSocket> {
    const Bun = (globalThis as { Bun: { connect(o: unknown): Promise<BunSocket> } }).Bun;
    return Bun.connect({ hostname: ep.spec.address, port: ep.spec.port, data: conn, socket: handlers });
  }

  release(c: UpstreamConn): void {
    c.handler = null;
    c.bodyPaused = null;
    if (c.closed || this.stopped) return c.close();
    c.reused = true;
    if (c.paused) {
      c.paused = false;
      c.socket.resume();
    }
    this.park(c);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.deadlines.stop();
    this.stopped = true;
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.clear();
    this.waiting.clear(); // their dials settle on their own (a connection made after close() is closed)
    this.dialing.clear();
  }

  private async open(ep: Endpoint, route: Route, key: string): Promise<UpstreamConn> {
    const conn = new UpstreamConn(key, () => conn.bodyPaused?.(true), () => conn.bodyPaused?.(false));
    const forget = () => {
      conn.closed = true;
      conn.out.dead = true;
      this.all.delete(conn);
      const list = this.idle.get(conn.key);
      const at = list ? list.indexOf(conn) : -1;
      if (at >= 0) list!.splice(at, 1);
    };
    conn.socket = await this.dial(ep, route, conn, {
      data: (s: BunSocket, d: Buffer) => (s.data.handler ? s.data.handler.data(d) : s.data.close()), // bytes while idle: not HTTP we understand
      drain: (s: BunSocket) => s.data.out.drain(),
      close: (s: BunSocket, err?: unknown) => {
        forget();
        s.data.handler?.closed(err);
      },
      // A socket error, or a throw in our data handler (Bun routes it here): the connection is done either way.
      error: (s: BunSocket, err: unknown) => {
        forget();
        s.terminate();
        s.data.handler?.closed(err);
      },
    });
    conn.socket.setNoDelay(true);
    if (this.stopped) conn.close();
    else this.all.add(conn);
    return conn;
  }
}

/** An attempt waiting for an answer's head. */
export interface Timed {
  /** performance.now() past which it times out. */
  deadline: number;
  /** Its index in Deadlines' list while it waits, -1 otherwise (owned by Deadlines). */
  timedSlot: number;
  finish(outcome: "timeout"): void;
}

/**
 * Per-try timeouts at TICK_MS granularity: one interval checks the attempts
 * waiting for a head, instead of a timer set and cleared per attempt.
 */
const TICK_MS = 10;

export class Deadlines {
  /**
   * The waiting attempts, unordered. Each knows its slot, so adding and
   * removing (twice per request) is an array store, with no hashing as a Set
   * would do; removal moves the last one into the freed slot.
   */
  private waiting: Timed[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  add(a: Timed): void {
    if (a.timedSlot >= 0) return;
    a.timedSlot = this.waiting.length;
    this.waiting.push(a);
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  delete(a: Timed): void {
    const at = a.timedSlot;
    if (at < 0) return;
    a.timedSlot = -1;
    const last = this.waiting.pop()!;
    if (last !== a) {
      this.waiting[at] = last;
      last.timedSlot = at;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const list = this.waiting;
    if (list.length === 0) return this.stop();
    const now = performance.now();
    // From the end: an attempt that times out leaves (delete), and what moves into its slot was already looked at.
    for (let i = list.length - 1; i >= 0; i--) {
      if (i >= list.length) i = list.length - 1; // the list shrank under a finish: go on from its end
      const a = list[i];
      if (a !== undefined && a.deadline <= now) a.finish("timeout");
    }
  }
}
