// The proxy listener's HTTP/2 side: h2c connections (handed over by the
// raw-socket listener when the first bytes are the h2 preface) are served by
// a node:http2 server with no socket of its own; each stream is one call
// through the same Invoker as HTTP/1.1 — routing by :authority like Host,
// intentions (authorize.ts, via admit), timeouts, retries, breakers,
// metrics — and goes to the chosen instance as a stream of an h2c session
// (sessions.ts), or, with the mesh on, of an mTLS session to the instance's
// agent (mesh-sessions.ts): the `sessions` seam (H2Upstream) decides. Bodies
// stream both ways; trailers (grpc-status, grpc-message) pass through;
// corral's own errors are gRPC statuses when the client speaks gRPC
// (grpc.ts), JSON otherwise (relay.ts).
import http2 from "node:http2";
import { type Logger } from "../../../core/sdk/index.ts";
import { proxyCallerToken } from "../fast/head-token.ts";
import { withoutTokenParam } from "../credentials.ts";
import { timeoutHeaderMs, TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, upstreamHeaders } from "../headers.ts";
import { Refusal, type CallSpec, type Invoker, type Transport } from "../invoker.ts";
import { splitInvokePath, type HostRouter } from "../listener.ts";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";
import type { TraceIds } from "../trace.ts";
import { grpcTimeoutMs, isGrpc } from "./grpc.ts";
import { closeWhenIdle } from "./idle.ts";
import { refuseH2, relayH2, type H2Reply } from "./answer.ts";
import type { H2Route, H2Upstream } from "./sessions.ts";
import { SockDuplex, type RawSocket } from "./sock-duplex.ts";

export interface H2FrontDeps {
  invoker: Invoker;
  router: HostRouter;
  /** Where attempts open their streams: the instances' own h2c sessions (H2Sessions), or the mesh (MeshH2Sessions). */
  sessions: H2Upstream;
  trace: TraceIds;
  log: Logger;
  /** A client connection with no open stream for this long is closed (as HTTP/1.1 keep-alive ones are; default 120 s). */
  idleMs?: number;
}

/** One call's attempt over an instance's h2 session: settles at the response headers. */
class H2Transport implements Transport<H2Reply> {
  /** The client sent more than max_request_bytes: the attempt was cut, the call is a 413 / RESOURCE_EXHAUSTED. */
  tooLarge = false;

  constructor(
    private readonly route: H2Route,
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
    this.route.session(ep, (session) => {
      if (done) return;
      if (session === "refused" || session === "protocol") return finish(session);
      if (this.down.closed || this.down.destroyed) return finish("aborted");
      up = session.request(this.route.head(ep, this.headers), { endStream: this.down.readableEnded && this.down.readableLength === 0 });
      this.route.track(session, up);
      if (!up.writableEnded) {
        // From here the client's body is being consumed: this call cannot be sent again.
        this.spec.replayable = false;
        this.bound(up);
        this.down.pipe(up);
      }
      up.once("response", (h) => finish(this.route.failure?.(h) ?? { status: Number(h[":status"]), headers: h, stream: up! }));
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
        refuseH2(stream, isGrpc(headers["content-type"]), new Refusal(502, "INVOKE_FAILED", `call failed: ${(err as Error)?.message ?? String(err)}`));
      });
    });
    // A client's protocol error ends its session only, never the listener.
    this.server.on("sessionError", (err) => d.log.debug("invoke: h2 client session error", { err }));
    this.server.on("session", (session) => closeWhenIdle(session, d.idleMs ?? 120_000));
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
      if (!byPath) return refuseH2(down, grpc, new Refusal(404, "NO_SERVICE_IN_HOST", `:authority ${JSON.stringify(authority ?? "")} names no service: use "<service>" or "<service>.service.<domain>", or the path /v1/invoke/<service>/... with an IP address or localhost`));
      name = byPath.service;
      target = byPath.target;
    }
    const inv = this.d.invoker;
    const header = (n: string): string | undefined => {
      const v = h[n];
      return Array.isArray(v) ? v[0] : v;
    };
    const token = proxyCallerToken(target.startsWith("/") ? target : "/", header);
    const svc = await inv.admit(name, token, started);
    if (svc instanceof Refusal) return refuseH2(down, grpc, svc);

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
    if (max > 0 && Number(header("content-length") ?? 0) > max) return refuseH2(down, grpc, tooLarge());
    // Which way the attempts go (with the mesh on: as the identity the token speaks for).
    const routed = this.d.sessions.route(token, svc.name);
    const route = routed instanceof Promise ? await routed : routed;
    const transport = new H2Transport(route, this.upstreamHeaders(h, method, target, authority, ip), down, spec, max);
    const out = await inv.run(spec, transport);
    if (transport.tooLarge) {
      if (!(out instanceof Refusal)) transport.discard(out);
      return refuseH2(down, grpc, tooLarge());
    }
    if (out instanceof Refusal) return refuseH2(down, grpc, out);
    relayH2(down, out);
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
