// Upstream HTTP/2: one h2c session per instance, shared by every call to
// it (many streams on one connection, as gRPC servers expect), made on the
// first call and dropped when the instance or corral closes it (GOAWAY, an
// error, a reset). Load is balanced per call — each stream picks its
// instance (invoker.ts) — so one client connection's calls spread over all
// instances, unlike a TCP proxy's per-connection balancing.
//
// The session cache itself is keyed by any string and told how to connect
// (`getKeyed`): the mesh's source side (mesh-sessions.ts) keeps its mTLS
// sessions to other agents in one too, keyed by caller identity and node.
import http2 from "node:http2";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";

/**
 * A session ready for streams, or why there is none — nothing was sent
 * either way, the call may go elsewhere: "refused" (no connection),
 * "protocol" (the instance answered, but not in HTTP/2: it speaks HTTP/1.1
 * only).
 */
export type SessionResult = http2.ClientHttp2Session | "refused" | "protocol";

/** Where one call's attempts open their streams (front.ts): the session for an instance, and the head to send it. */
export interface H2Route {
  /** Calls `ready` with a session to reach `ep` on, at once when one is up. */
  session(ep: Endpoint, ready: (r: SessionResult) => void): void;
  /** The request head of an attempt to `ep` (`headers` holds the method, path and scheme already). */
  head(ep: Endpoint, headers: http2.OutgoingHttpHeaders): http2.OutgoingHttpHeaders;
  /** A stream was opened on `session` (it is not idle until the stream closes). */
  track(session: http2.ClientHttp2Session, stream: http2.ClientHttp2Stream): void;
  /**
   * An answer that says the attempt failed before the instance (the mesh:
   * the destination agent could not reach it), judged as that failure rather
   * than as an answer; undefined = an answer.
   */
  failure?(headers: http2.IncomingHttpHeaders): FailureKind | undefined;
}

/**
 * The seam between the h2 front and the upstream: a route per call. Straight
 * to the instances (H2Sessions), or across the mesh (mesh-sessions.ts), which
 * needs the caller's token to know which identity the call goes as.
 */
export interface H2Upstream {
  route(token: string | undefined, service: string): H2Route | Promise<H2Route>;
  close(): void;
}

/** A session with no stream for this long is closed: instances come and go, and a session must not outlive its use. */
const IDLE_MS = 60_000;

export class H2Sessions implements H2Upstream, H2Route {
  private readonly live = new Map<string, http2.ClientHttp2Session>();
  /** Streams open on each session, and the idle timer of one that has none. */
  private readonly streams = new WeakMap<http2.ClientHttp2Session, { open: number; idle: ReturnType<typeof setTimeout> | null }>();
  private readonly connecting = new Map<string, Array<(r: SessionResult) => void>>();
  private closed = false;

  /** Straight to the instances: the same route for every call. */
  route(): H2Route {
    return this;
  }

  session(ep: Endpoint, ready: (r: SessionResult) => void): void {
    this.get(ep, ready);
  }

  head(ep: Endpoint, headers: http2.OutgoingHttpHeaders): http2.OutgoingHttpHeaders {
    return { ...headers, ":authority": ep.hostPort };
  }

  /** Calls `ready` with the instance's h2c session, at once when one is up. */
  get(ep: Pick<Endpoint, "hostPort" | "base">, ready: (r: SessionResult) => void): void {
    this.getKeyed(ep.hostPort, () => http2.connect(ep.base), ready);
  }

  /** Calls `ready` with the session kept under `key`, made with `connect` when there is none. */
  getKeyed(key: string, connect: () => http2.ClientHttp2Session, ready: (r: SessionResult) => void): void {
    const s = this.live.get(key);
    if (s && !s.closed && !s.destroyed) return ready(s);
    const waiting = this.connecting.get(key);
    if (waiting) return void waiting.push(ready);
    if (this.closed) return ready("refused");
    this.connecting.set(key, [ready]);
    const session = connect();
    const settle = (r: SessionResult): void => {
      const list = this.connecting.get(key) ?? [];
      this.connecting.delete(key);
      for (const f of list) f(r);
    };
    // Ready at the peer's first SETTINGS frame, not at the TCP connect: that
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
