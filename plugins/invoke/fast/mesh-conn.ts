// A connection to this node's mesh listener (docs/mesh.md), HTTP/1.1 on
// the sockets engine's own code (server.ts, bodies.ts, transport.ts,
// forward.ts): the same decisions as the node:tls listener
// (../mesh-server.ts) — the caller is the service its certificate names,
// taken once at the handshake, never from a field; the intention
// (caller → destination) is checked per request; the call goes to the
// instance the source chose when it passes on this node, over a keep-alive
// pool of plain connections. One attempt: retries, timeouts and breakers
// are the source agent's.
import { validServiceName } from "../../../core/sdk/index.ts";
import type { CallDecision } from "../authorize.ts";
import { Refusal } from "../invoker.ts";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";
import { nowMs, SPAN_KIND_SERVER, type AttributeValue, type SpanSink, type SpanStart } from "../spans.ts";
import type { TraceIds } from "../trace.ts";
import { BufferedBody, type StreamedBody } from "./bodies.ts";
import { writeUpstreamPrefix, type RequestHead } from "./http1.ts";
import { MESH_INSTANCE_FIELD, MESH_SERVICE_FIELD } from "./mesh-upstream.ts";
import { ClientConn, CRLF, TRACEPARENT, type Engine, type Sock } from "./server.ts";
import { NO_BODY, type BodySource, type RawReply } from "./transport.ts";

/** Who is calling, as the TLS handshake established it. */
export type MeshPeer = { kind: "service"; service: string; uri: string } | { kind: "plain" } | { kind: "rejected"; why: string };

/** What the destination side decides with (mesh.ts gives the node's authorizer and catalog view). */
export interface MeshDestination {
  /** At once when the answer is at hand (the common case: decisions are kept per intentions list). */
  authorize(source: string, destination: string): CallDecision | Promise<CallDecision>;
  /** The instance to call: the one the source chose when it is a passing instance on this node, else another there, else undefined. */
  localInstance(service: string, serviceId: string): Endpoint | undefined | Promise<Endpoint | undefined>;
  onDenied?(source: string, destination: string): void;
  /** OTLP export on: this hop renews traceparent and records a SERVER span, child of the source agent's. */
  spans?: { trace: TraceIds; sink: SpanSink };
}

/** writeUpstreamPrefix's options at the destination: fields naming a mesh identity (a caller's XFCC, the source's x-corral-mesh-*) are dropped; no X-Forwarded-For of ours. */
const MESH_FORWARDING = { ip: "", mesh: true };

/** No per-try limit of our own: event streams and long polls pass; the source agent's timeouts end an attempt (by closing). */
const NO_TRY_LIMIT_MS = 24 * 3600_000;

function field(head: RequestHead, name: string): string {
  return head.picked.find((f) => f.name === name)?.value ?? "";
}

export class MeshConn extends ClientConn {
  private span: { start: SpanStart; method: string; source: string; destination: string } | null = null;
  private status = 0;
  private readonly settled = (out: RawReply | FailureKind): void => this.attempted(out);
  /** The caller's identity for the instance, from the certificate (the same for every request of the connection). */
  private readonly xfcc: Buffer | null;

  constructor(
    sock: Sock,
    e: Engine,
    sweeps: number,
    private readonly peer: MeshPeer,
    private readonly m: MeshDestination,
  ) {
    super(sock, e, sweeps);
    this.xfcc = peer.kind === "service" ? Buffer.from(`x-forwarded-client-cert: URI=${peer.uri}\r\n`, "latin1") : null;
  }

  protected override exchange(head: RequestHead): void {
    const peer = this.peer;
    if (peer.kind === "rejected") return this.refuse(head, new Refusal(403, "MESH_CERT_REJECTED", `mesh certificate refused: ${peer.why}`));
    // Only a path: the instance is ours to choose, and "@host/..." or an absolute URL would name another server.
    if (head.target[0] !== "/") return this.refuse(head, new Refusal(400, "BAD_REQUEST_TARGET", "the request target must be a path (/...)"), true);
    const destination = field(head, MESH_SERVICE_FIELD).toLowerCase();
    if (!validServiceName(destination)) return this.refuse(head, new Refusal(400, "NO_SERVICE", `the ${MESH_SERVICE_FIELD} header must name a service`));
    const body = this.takeBody(head);
    if (body instanceof Refusal) return this.refuse(head, body);
    const source = peer.kind === "service" ? peer.service : "";
    const traceparent = this.m.spans ? this.m.spans.trace.next(head.traceparent) : (head.traceparent ?? this.e.trace.next(null));
    const start = this.m.spans?.trace.claim();
    if (start) this.span = { start, method: head.method, source, destination };
    // Decided at once when the decision and the instance are at hand (every request after a connection's first,
    // until the intentions change); a promise only when either must be waited for.
    const decision = this.m.authorize(source, destination);
    if (decision instanceof Promise) return void this.decideLater(decision, head, body, source, destination, traceparent);
    this.decided(decision, head, body, source, destination, traceparent);
  }

  private decideLater(p: Promise<CallDecision>, head: RequestHead, body: BufferedBody | StreamedBody | null, source: string, destination: string, traceparent: string): void {
    p.then((d) => this.decided(d, head, body, source, destination, traceparent)).catch((err) => this.crashed(err));
  }

  private decided(decision: CallDecision, head: RequestHead, body: BufferedBody | StreamedBody | null, source: string, destination: string, traceparent: string): void {
    if (this.closed) return;
    if (!decision.allowed) {
      this.m.onDenied?.(source || "(none)", destination);
      return this.refuse(head, new Refusal(403, "INTENTION_DENIED", `calling "${destination}" is not allowed: ${decision.reason}`, { reason: decision.reason }));
    }
    const ep = this.m.localInstance(destination, field(head, MESH_INSTANCE_FIELD));
    if (ep instanceof Promise) return void this.placeLater(ep, head, body, destination, traceparent);
    this.place(ep, head, body, destination, traceparent);
  }

  private placeLater(p: Promise<Endpoint | undefined>, head: RequestHead, body: BufferedBody | StreamedBody | null, destination: string, traceparent: string): void {
    p.then((ep) => this.place(ep, head, body, destination, traceparent)).catch((err) => this.crashed(err));
  }

  /** The instance chosen: the call goes once the body is complete (a client gone before its body is the end of it). */
  private place(ep: Endpoint | undefined, head: RequestHead, body: BufferedBody | StreamedBody | null, destination: string, traceparent: string): void {
    if (this.closed) return;
    if (!ep) return this.refuse(head, new Refusal(503, "NO_HEALTHY_INSTANCE", `no passing instance of "${destination}" on this node`));
    if (body instanceof BufferedBody && !body.complete) {
      return void body.done.then(() => this.forward(ep, head, body, traceparent), () => {}).catch((err) => this.crashed(err));
    }
    this.forward(ep, head, body, traceparent);
  }

  private forward(ep: Endpoint, head: RequestHead, body: BufferedBody | StreamedBody | null, traceparent: string): void {
    if (this.closed) return;
    // The head goes to the instance as bytes, the client's copied around corral's fields (head-bytes.ts), as on the
    // source side: no string per request. The caller's identity fields were dropped by writeUpstreamPrefix (mesh: true);
    // the instance learns it from the certificate only.
    const out = this.t.sendHead;
    out.clear();
    out.src = this.headBytes;
    writeUpstreamPrefix(head, head.target, MESH_FORWARDING, out);
    out.src = null;
    this.headBytes = null;
    out.bytes(TRACEPARENT);
    out.text(traceparent);
    out.bytes(CRLF);
    if (this.xfcc) out.bytes(this.xfcc);
    const source_: BodySource = body instanceof BufferedBody ? { buffered: body.value } : (body ?? NO_BODY);
    this.head = head;
    this.t.reset(null, head.method, source_);
    this.t.send(ep, NO_TRY_LIMIT_MS, this.settled);
  }

  private attempted(out: RawReply | FailureKind): void {
    if (typeof out !== "string") return this.answer(out);
    if (out === "aborted") return this.answer(new Refusal(499, "CLIENT_CLOSED", "the client closed the request"));
    this.answer(new Refusal(502, "UPSTREAM_UNAVAILABLE", `the instance could not be reached (${out})`));
  }

  protected override answer(r: RawReply | Refusal): void {
    this.status = r.status;
    super.answer(r);
  }

  protected override respond(status: number, json: string, close: boolean): void {
    this.status = status;
    super.respond(status, json, close);
  }

  override finished(close: boolean): void {
    this.endSpan(undefined);
    super.finished(close);
  }

  override onClose(): void {
    this.endSpan("the answer did not complete");
    super.onClose();
  }

  /** This hop's span, child of the source agent's, recorded when the answer ends (whatever it is). */
  private endSpan(broken: string | undefined): void {
    const s = this.span;
    if (!s) return;
    this.span = null;
    const status = this.status;
    const attributes: Record<string, AttributeValue> = {
      "http.request.method": s.method, "http.response.status_code": status, "peer.service": s.destination, "corral.mesh.source": s.source || "(none)",
    };
    const error = broken ?? (status >= 500 ? `HTTP ${status}` : undefined);
    if (error) attributes["error.type"] = broken ? "aborted" : String(status);
    this.m.spans!.sink.push({ ...s.start, name: `${s.method} ${s.destination}`, kind: SPAN_KIND_SERVER, endMs: nowMs(), attributes, ...(error ? { error } : {}) });
  }
}
