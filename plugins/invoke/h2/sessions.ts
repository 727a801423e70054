// Upstream HTTP/2: one h2c session per instance, shared by every call to
// it (many streams on one connection, as gRPC servers expect), made on the
// first call and dropped when the instance or corral closes it (GOAWAY, an
// error, a reset). Load is balanced per call — each stream picks its
// instance (invoker.ts) — so one client connection's calls spread over all
// instances, unlike a TCP proxy's per-connection balancing.
import http2 from "node:http2";
import type { Endpoint } from "../pool.ts";

/**
 * A session ready for streams, or why there is none — nothing was sent
 * either way, the call may go elsewhere: "refused" (no connection),
 * "protocol" (the instance answered, but not in HTTP/2: it speaks HTTP/1.1
 * only).
 */
export type SessionResult = http2.ClientHttp2Session | "refused" | "protocol";

/** A session with no stream for this long is closed: instances come and go, and a session must not outlive its use. */
const IDLE_MS = 60_000;

export class H2Sessions {
  private readonly live = new Map<string, http2.ClientHttp2Session>();
  /** Streams open on each session, and the idle timer of one that has none. */
  private readonly streams = new WeakMap<http2.ClientHttp2Session, { open: number; idle: ReturnType<typeof setTimeout> | null }>();
  private readonly connecting = new Map<string, Array<(r: SessionResult) => void>>();
  private closed = false;

  /** Calls `ready` with the instance's session, at once when one is up. */
  get(ep: Endpoint, ready: (r: SessionResult) => void): void {
    const key = ep.hostPort;
    const s = this.live.get(key);
    if (s && !s.closed && !s.destroyed) return ready(s);
    const waiting = this.connecting.get(key);
    if (waiting) return void waiting.push(ready);
    if (this.closed) return ready("refused");
    this.connecting.set(key, [ready]);
    const session = http2.connect(ep.base);
    const settle = (r: SessionResult): void => {
      const list = this.connecting.get(key) ?? [];
      this.connecting.delete(key);
      for (const f of list) f(r);
    };
    // Ready at the instance's first SETTINGS frame, not at the TCP connect: that
    // is what tells an h2 server from an HTTP/1.1 one (which answers the
    // preface with a 400 the session reads as a protocol error).
    let connected = false;
    session.once("connect", () => (connected = true));
    session.once("remoteSettings", () => {
      this.live.set(key, session);
      settle(session);
    });
    const gone = (): void => {
      if (this.live.get(key) === session) this.live.delete(key);
      if (this.connecting.has(key)) settle(connected ? "protocol" : "refused");
    };
    session.on("error", gone);
    session.on("close", gone);
    session.on("goaway", gone);
  }

  /** A stream was opened on `session` (released when it closes): the session is not idle meanwhile. */
  track(session: http2.ClientHttp2Session, stream: http2.ClientHttp2Stream): void {
    let st = this.streams.get(session);
    if (!st) this.streams.set(session, (st = { open: 0, idle: null }));
    st.open++;
    if (st.idle) {
      clearTimeout(st.idle);
      st.idle = null;
    }
    stream.once("close", () => {
      if (--st.open > 0 || session.closed || session.destroyed) return;
      st.idle = setTimeout(() => {
        st.idle = null;
        if (st.open === 0) session.close();
      }, IDLE_MS);
      st.idle.unref?.();
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.live.values()) s.destroy();
    this.live.clear();
  }
}
