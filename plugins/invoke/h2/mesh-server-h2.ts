// The mesh's destination side for HTTP/2 (docs/mesh.md): a connection to the
// mesh listener that negotiated ALPN `h2` (mesh-server.ts hands it here with
// the peer its certificate proved) is served by a node:http2 server with no
// socket of its own. Each stream is judged exactly as an HTTP/1.1 request
// is there — the caller is the certificate's service, never a header; the
// intention decides; the same refusals, as gRPC statuses to a gRPC caller
// (relay.ts) — then goes to the named local instance as a stream of its h2c
// session (sessions.ts: one per instance), both ways streaming, trailers
// and resets passed back.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { validServiceName, type Logger } from "../../../core/sdk/index.ts";
import type { CallDecision } from "../authorize.ts";
import { Refusal } from "../invoker.ts";
import { MESH_INSTANCE_HEADER, MESH_SERVICE_HEADER, XFCC_HEADER, type MeshPeer } from "../mesh-server.ts";
import type { Endpoint } from "../pool.ts";
import { nowMs, SPAN_KIND_SERVER, type AttributeValue, type SpanSink } from "../spans.ts";
import type { TraceIds } from "../trace.ts";
import { isGrpc } from "./grpc.ts";
import { closeWhenIdle } from "./idle.ts";
import { CONNECTION_SPECIFIC, refuseH2, relayH2 } from "./answer.ts";
import { H2Sessions } from "./sessions.ts";

export interface MeshH2ServerDeps {
  authorize: (source: string, destination: string) => CallDecision | Promise<CallDecision>;
  /** The instance to call: the one the source chose when it is a passing instance on this node, else undefined. */
  localInstance: (service: string, serviceId: string) => Endpoint | undefined | Promise<Endpoint | undefined>;
  log: Logger;
  onDenied?: (source: string, destination: string) => void;
  /** OTLP export on: this hop renews traceparent and records a SERVER span, child of the source agent's. */
  spans?: { trace: TraceIds; sink: SpanSink };
  /** A connection with no open stream for this long is closed (default 120 s). */
  idleMs?: number;
}

/**
 * On this agent's refusals only, for the source agent (mesh-sessions.ts): the
 * attempt failed before the instance — "refused" (not reachable, or no longer
 * a passing instance here), "protocol" (it does not speak h2) — so the source
 * judges it as it would a direct attempt (breaker, next instance) rather than
 * as the instance's answer. Removed from the instance's own answers.
 */
export const MESH_FAILURE_HEADER = "x-corral-mesh-failure";

/** The peer a connection's certificate proved, kept on the socket (http2 gives a stream its session's socket, not ours in every runtime). */
const PEER = Symbol("corral.meshPeer");

/** Never passed to the instance: connection-specific, or what only this agent may say (the mesh headers, who called). */
const DROP = new Set([...CONNECTION_SPECIFIC, "te", "host", MESH_SERVICE_HEADER, MESH_INSTANCE_HEADER, XFCC_HEADER]);

export class MeshH2Server {
  // Bounds like the proxy listener's h2 side (front.ts).
  private readonly server = http2.createServer({ settings: { maxConcurrentStreams: 1000, maxHeaderListSize: 64 * 1024 }, maxHeaderListPairs: 512 });
  /** h2c sessions to this node's instances. */
  private readonly sessions = new H2Sessions();

  constructor(private readonly d: MeshH2ServerDeps) {
    this.server.on("stream", (stream, headers) => {
      this.onStream(stream, headers).catch((err) => {
        d.log.warn("invoke mesh: h2 call failed", { err });
        refuseH2(stream, isGrpc(headers["content-type"]), new Refusal(502, "UPSTREAM_UNAVAILABLE", `call failed: ${(err as Error)?.message ?? String(err)}`));
      });
    });
    // A peer's protocol error ends its session only.
    this.server.on("sessionError", (err) => d.log.debug("invoke mesh: h2 session error", { err }));
    // Source agents close theirs after 60 s without a stream; a connection nobody uses is not held for longer than the proxy listener's are.
    this.server.on("session", (session) => closeWhenIdle(session, d.idleMs ?? 120_000));
  }

  /** Serves a TLS connection that negotiated h2, from `peer`. */
  serve(sock: Duplex, peer: MeshPeer): void {
    (sock as unknown as Record<symbol, MeshPeer>)[PEER] = peer;
    this.server.emit("connection", sock);
  }

  close(): void {
    this.server.close();
    this.sessions.close();
  }

  private async onStream(down: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders): Promise<void> {
    const grpc = isGrpc(h["content-type"]);
    down.on("error", () => {}); // a reset by the source is its business; the instance's stream is cancelled below
    const peer = (down.session?.socket as unknown as Record<symbol, MeshPeer | undefined> | undefined)?.[PEER] ?? { kind: "rejected", why: "unknown connection" };
    if (peer.kind === "rejected") return refuseH2(down, grpc, new Refusal(403, "MESH_CERT_REJECTED", `mesh certificate refused: ${peer.why}`));
    // Only a path may follow the instance's address (CONNECT has none; "*" names no resource).
    const target = h[":path"];
    if (typeof target !== "string" || !target.startsWith("/")) return refuseH2(down, grpc, new Refusal(400, "BAD_REQUEST_TARGET", "the request target must be a path (/...)"));
    const destination = String(h[MESH_SERVICE_HEADER] ?? "").toLowerCase();
    if (!validServiceName(destination)) return refuseH2(down, grpc, new Refusal(400, "NO_SERVICE", `the ${MESH_SERVICE_HEADER} header must name a service`));
    const source = peer.kind === "service" ? peer.service : "";
    if (this.d.spans) serverSpan(this.d.spans, down, h, source, destination);
    const decision = await this.d.authorize(source, destination);
    if (!decision.allowed) {
      this.d.onDenied?.(source || "(none)", destination);
      return refuseH2(down, grpc, new Refusal(403, "INTENTION_DENIED", `calling "${destination}" is not allowed: ${decision.reason}`, { reason: decision.reason }));
    }
    const ep = await this.d.localInstance(destination, String(h[MESH_INSTANCE_HEADER] ?? ""));
    if (!ep) return refuseH2(down, grpc, new Refusal(503, "NO_HEALTHY_INSTANCE", `no passing instance of "${destination}" on this node`), { [MESH_FAILURE_HEADER]: "refused" });
    if (down.closed || down.destroyed) return;

    const head: http2.OutgoingHttpHeaders = { ":method": h[":method"] ?? "GET", ":path": target, ":scheme": "http", ":authority": ep.hostPort };
    for (const [k, v] of Object.entries(h)) {
      if (k.startsWith(":") || v === undefined || DROP.has(k)) continue;
      head[k] = v;
    }
    // gRPC servers require "te: trailers", the only TE HTTP/2 allows.
    if (h.te === "trailers") head.te = "trailers";
    if (peer.kind === "service") head[XFCC_HEADER] = `URI=${peer.uri}`;

    this.sessions.get(ep, (session) => {
      if (down.closed || down.destroyed) return;
      if (session === "refused") return refuseH2(down, grpc, new Refusal(502, "UPSTREAM_UNAVAILABLE", `the instance of "${destination}" could not be reached`), { [MESH_FAILURE_HEADER]: "refused" });
      if (session === "protocol") return refuseH2(down, grpc, new Refusal(502, "UPSTREAM_NOT_H2", `the instance of "${destination}" does not speak HTTP/2 (h2c); call it over HTTP/1.1`), { [MESH_FAILURE_HEADER]: "protocol" });
      const up = session.request(head, { endStream: down.readableEnded && down.readableLength === 0 });
      this.sessions.track(session, up);
      if (!up.writableEnded) down.pipe(up);
      let answered = false;
      up.once("response", (rh) => {
        answered = true;
        delete rh[MESH_FAILURE_HEADER]; // only this agent says that
        relayH2(down, { status: Number(rh[":status"]), headers: rh, stream: up });
      });
      up.on("error", () => {});
      up.once("close", () => {
        // Gone before its answer: reset by the instance, or the connection dropped.
        if (!answered) refuseH2(down, grpc, new Refusal(502, "UPSTREAM_UNAVAILABLE", `the instance of "${destination}" reset the call`));
      });
      down.once("close", () => {
        if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
      });
    });
  }
}

/** This hop's span (as mesh-server.ts's for HTTP/1.1): traceparent renewed for the instance, the span recorded when the stream closes. */
function serverSpan(spans: { trace: TraceIds; sink: SpanSink }, down: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders, source: string, destination: string): void {
  const incoming = h.traceparent;
  h.traceparent = spans.trace.next(typeof incoming === "string" ? incoming : null);
  const start = spans.trace.claim();
  if (!start) return; // not sampled
  const method = String(h[":method"] ?? "GET");
  down.once("close", () => {
    const status = Number(down.sentHeaders?.[":status"] ?? 0);
    const grpcStatus = down.sentTrailers?.["grpc-status"] ?? down.sentHeaders?.["grpc-status"];
    const attributes: Record<string, AttributeValue> = {
      "http.request.method": method, "http.response.status_code": status, "peer.service": destination,
      "corral.mesh.source": source || "(none)",
    };
    if (grpcStatus !== undefined) attributes["rpc.grpc.status_code"] = Number(grpcStatus);
    const complete = down.rstCode === undefined || down.rstCode === http2.constants.NGHTTP2_NO_ERROR;
    const error = !complete ? "the answer did not complete" : status >= 500 ? `HTTP ${status}` : undefined;
    if (error) attributes["error.type"] = complete ? String(status) : "aborted";
    spans.sink.push({ ...start, name: `${method} ${destination}`, kind: SPAN_KIND_SERVER, endMs: nowMs(), attributes, ...(error ? { error } : {}) });
  });
}
