// The proxy listener's HTTP/2 side: h2c connections (handed over by the
// raw-socket listener when the first bytes are the h2 preface) are served by
// a node:http2 server with no socket of its own; each stream is one call
// through the same Invoker as HTTP/1.1 — routing by :authority like Host,
// intentions (authorize.ts, via admit), timeouts, retries, breakers,
// metrics — and goes to the chosen instance as a stream of an h2c session
// (sessions.ts). Bodies stream both ways; trailers (grpc-status,
// grpc-message) pass through; corral's own errors are gRPC statuses when the
// client speaks gRPC (grpc.ts), JSON otherwise.
import http2 from "node:http2";
import { requestToken, type Logger } from "../../../core/sdk/index.ts";
import { withoutTokenParam } from "../credentials.ts";
import { timeoutHeaderMs, TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, upstreamHeaders } from "../headers.ts";
import { Refusal, type CallSpec, type Invoker, type Transport } from "../invoker.ts";
import { splitInvokePath, type HostRouter } from "../listener.ts";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";
import type { TraceIds } from "../trace.ts";
import { encodeGrpcMessage, grpcStatusFor, grpcTimeoutMs, isGrpc } from "./grpc.ts";
import type { H2Sessions } from "./sessions.ts";
import { SockDuplex, type RawSocket } from "./sock-duplex.ts";

export interface H2FrontDeps {
  invoker: Invoker;
  router: HostRouter;
  sessions: H2Sessions;
  trace: TraceIds;
  log: Logger;
  /** A client connection with no open stream for this long is closed (as HTTP/1.1 keep-alive ones are; default 120 s). */
  idleMs?: number;
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or that describe one hop: never copied across. */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
}

/** One call's attempt over an instance's h2 session: settles at the response headers. */
class H2Transport implements Transport<H2Reply> {
  /** The client sent more than max_request_bytes: the attempt was cut, the call is a 413 / RESOURCE_EXHAUSTED. */
  tooLarge = false;

  constructor(
    private readonly sessions: H2Sessions,
    private readonly headers: http2.OutgoingHttpHeaders,
    private readonly down: http2.ServerHttp2Stream,
    private readonly spec: CallSpec,
    /** max_request_bytes; 0 = no bound. */
    private readonly maxBytes: number,
  ) {}

  /** Counts the client's body as it streams to the instance; past the bound, the instance's stream is cancelled. */
  private bound(up: http2.ClientHttp2Stream): void {
    if (this.maxBytes <= 0) return;
    let n = 0;
    this.down.on("data", (chunk: Buffer) => {
      n += chunk.byteLength;
      if (n <= this.maxBytes || this.tooLarge) return;
      this.tooLarge = true;
      this.down.unpipe(up);
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  }

  send(ep: Endpoint, tryMs: number, settle: (out: H2Reply | FailureKind) => void): void {
    let done = false;
    let up: http2.ClientHttp2Stream | undefined;
    const finish = (out: H2Reply | FailureKind): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (typeof out === "string" && up && !up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
      settle(out);
    };
    const timer = setTimeout(() => finish("timeout"), tryMs);
    this.sessions.get(ep, (session) => {
      if (done) return;
      if (session === "refused" || session === "protocol") return finish(session);
      if (this.down.closed || this.down.destroyed) return finish("aborted");
      up = session.request({ ...this.headers, ":authority": ep.hostPort }, { endStream: this.down.readableEnded && this.down.readableLength === 0 });
      this.sessions.track(session, up);
      // From here the client's body is being consumed: this call cannot be sent again.
      this.spec.replayable = false;
      if (!up.writableEnded) {
        this.bound(up);
        this.down.pipe(up);
      }
      up.once("response", (h) => finish({ status: Number(h[":status"]), headers: h, stream: up! }));
      // `on`, not `once`: a stream cancelled here may still report a write of the piped body as an error.
      up.on("error", () => finish("reset"));
      up.once("close", () => finish("reset"));
    });
  }

  discard(r: H2Reply): void {
    if (!r.stream.closed) r.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

export class H2Front {
  // Bounds like the HTTP/1.1 side's (64 KiB heads): streams per client connection, header block size.
  private readonly server = http2.createServer({ settings: { maxConcurrentStreams: 1000, maxHeaderListSize: 64 * 1024 }, maxHeaderListPairs: 512 });

  constructor(private readonly d: H2FrontDeps) {
    this.server.on("stream", (stream, headers) => {
      this.onStream(stream, headers).catch((err) => {
        d.log.warn("invoke: h2 call failed", { err });
        this.refuse(stream, isGrpc(headers["content-type"]), new Refusal(502, "INVOKE_FAILED", `call failed: ${(err as Error)?.message ?? String(err)}`));
      });
    });
    // A client's protocol error ends its session only, never the listener.
    this.server.on("sessionError", (err) => d.log.debug("invoke: h2 client session error", { err }));
    this.server.on("session", (session) => this.closeWhenIdle(session));
  }

  /**
   * Closes a client's session once it has had no open stream for idleMs: an
   * idle connection must not be held forever (the HTTP/1.1 side's idle sweep
   * does the same), while a stream that is open but quiet (a watch over bidi
   * gRPC) keeps its connection.
   */
  private closeWhenIdle(session: http2.ServerHttp2Session): void {
    const idleMs = this.d.idleMs ?? 120_000;
    let open = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const arm = () => {
      timer = setTimeout(() => {
        timer = null;
        if (open === 0 && !session.closed && !session.destroyed) session.close();
      }, idleMs);
      timer.unref?.();
    };
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      stream.once("close", () => {
        if (--open === 0 && !session.closed) arm();
      });
    });
    session.once("close", () => timer && clearTimeout(timer));
    arm();
  }

  /** Serves a raw-socket client connection whose first bytes (`first`) are the h2 preface; returns what the socket's callbacks now feed. */
  adopt(sock: RawSocket, first: Buffer): SockDuplex {
    const duplex = new SockDuplex(sock);
    this.server.emit("connection", duplex);
    duplex.onData(first);
    return duplex;
  }

  close(): void {
    this.server.close();
    this.d.sessions.close();
  }

  private async onStream(down: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders): Promise<void> {
    const started = performance.now();
    const grpc = isGrpc(h["content-type"]);
    down.on("error", () => {}); // a client reset is the client's business; the call sees it as `aborted`
    const authority = (h[":authority"] ?? h.host ?? null) as string | null;
    let target = (h[":path"] as string | undefined) ?? "/";
    let name = this.d.router.service(authority);
    if (!name) {
      const byPath = this.d.router.pathFormAllowed(authority) ? splitInvokePath(target) : undefined;
      if (!byPath) return this.refuse(down, grpc, new Refusal(404, "NO_SERVICE_IN_HOST", `:authority ${JSON.stringify(authority ?? "")} names no service: use "<service>" or "<service>.service.<domain>", or the path /v1/invoke/<service>/... with an IP address or localhost`));
      name = byPath.service;
      target = byPath.target;
    }
    const inv = this.d.invoker;
    const header = (n: string): string | undefined => {
      const v = h[n];
      return Array.isArray(v) ? v[0] : v;
    };
    const svc = await inv.admit(name, requestToken(`http://h${target.startsWith("/") ? target : "/"}`, header) || undefined, started);
    if (svc instanceof Refusal) return this.refuse(down, grpc, svc);

    const method = (h[":method"] as string | undefined) ?? "GET";
    const ip = (down.session?.socket as unknown as { remoteAddress?: string } | undefined)?.remoteAddress ?? "";
    const spec: CallSpec = {
      svc, method, replayable: true, started,
      timeoutMs: grpcTimeoutMs(header("grpc-timeout")) ?? timeoutHeaderMs(header(TIMEOUT_HEADER) ?? null) ?? svc.policy.timeoutMs,
      tryMs: timeoutHeaderMs(header(TRY_TIMEOUT_HEADER) ?? null) ?? svc.policy.tryTimeoutMs,
      aborted: () => down.closed || down.destroyed,
    };
    const max = inv.cfg.max_request_bytes;
    const tooLarge = () => inv.refuse(svc, started, 413, "too_large", "BODY_TOO_LARGE", `request body is larger than ${max} bytes`);
    if (max > 0 && Number(header("content-length") ?? 0) > max) return this.refuse(down, grpc, tooLarge());
    const transport = new H2Transport(this.d.sessions, this.upstreamHeaders(h, method, target, authority, ip), down, spec, max);
    const out = await inv.run(spec, transport);
    if (transport.tooLarge) {
      if (!(out instanceof Refusal)) transport.discard(out);
      return this.refuse(down, grpc, tooLarge());
    }
    if (out instanceof Refusal) return this.refuse(down, grpc, out);
    this.relay(down, out);
  }

  /** The instance's answer to the client: headers, body and trailers as they come, a reset either way passed on. */
  private relay(down: http2.ServerHttp2Stream, r: H2Reply): void {
    const up = r.stream;
    if (down.closed || down.destroyed) return void up.close(http2.constants.NGHTTP2_CANCEL);
    const headers = copyHeaders(r.headers);
    headers[":status"] = r.status;
    // A trailers-only answer (a gRPC error) ends with its headers.
    if (up.endAfterHeaders) {
      down.respond(headers, { endStream: true });
      return;
    }
    let trailers: http2.OutgoingHttpHeaders | undefined;
    up.once("trailers", (t) => (trailers = copyHeaders(t)));
    down.respond(headers, { waitForTrailers: true });
    down.once("wantTrailers", () => (trailers ? down.sendTrailers(trailers) : down.close()));
    up.pipe(down);
    up.once("close", () => {
      // Reset by the instance mid-answer: the client's stream is reset too, not ended as if complete.
      if (up.rstCode && up.rstCode !== http2.constants.NGHTTP2_NO_ERROR && !down.closed) down.close(up.rstCode);
    });
    down.once("close", () => {
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  }

  private refuse(down: http2.ServerHttp2Stream, grpc: boolean, r: Refusal): void {
    if (down.closed || down.destroyed || down.headersSent) return;
    if (grpc) {
      down.respond({
        ":status": 200, "content-type": "application/grpc",
        "grpc-status": String(grpcStatusFor(r.code, r.status)), "grpc-message": encodeGrpcMessage(r.message),
      }, { endStream: true });
      return;
    }
    if (r.status === 499) return void down.close(http2.constants.NGHTTP2_CANCEL);
    down.respond({ ":status": r.status, "content-type": "application/json" });
    down.end(r.json());
  }

  /** What the instance receives: the same header rules as HTTP/1.1 (headers.ts), then HTTP/2's pseudo-headers. */
  private upstreamHeaders(h: http2.IncomingHttpHeaders, method: string, target: string, authority: string | null, ip: string): http2.OutgoingHttpHeaders {
    const incoming = new Headers();
    for (const [k, v] of Object.entries(h)) {
      if (k.startsWith(":") || v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) incoming.append(k, x);
      else incoming.set(k, String(v));
    }
    if (authority) incoming.set("host", authority);
    // The caller's ?token= stays here, as on HTTP/1.1 (credentials.ts).
    const out: http2.OutgoingHttpHeaders = { ":method": method, ":path": withoutTokenParam(target), ":scheme": "http" };
    for (const [k, v] of upstreamHeaders(incoming, { ip, proto: "http" }, this.d.trace)) out[k] = v;
    // gRPC servers require "te: trailers" (the only TE HTTP/2 allows); headers.ts drops TE as hop-by-hop.
    if (h.te === "trailers") out.te = "trailers";
    return out;
  }
}

/** A header block without pseudo-headers or connection-specific fields (http2 would refuse to send those). */
function copyHeaders(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined || CONNECTION_SPECIFIC.has(k)) continue;
    out[k] = v;
  }
  return out;
}
