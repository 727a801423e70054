// A client connection of the raw-socket proxy listener: HTTP/1.1 parsed and
// written by corral itself, so a call costs a head parse, a head write and
// two socket writes — no Request/Response objects, no streams, no fetch.
// That is what brings a proxied request near HAProxy's cost (docs/invoke.md,
// "Performance"). Bun only; elsewhere the fetch engine serves the listener.
//
// One exchange at a time per client connection; pipelined requests wait in
// the buffer (bounded). The call itself (instance choice, retries, breakers)
// is the Invoker's call loop, as for every other front. In the common case
// (no ACL lookup, no body to wait for, a pooled connection) a request goes
// out within its socket's data callback and its answer comes back within
// the instance socket's: no promise is made per request.
import type { Logger } from "../../../core/sdk/index.ts";
import { timeoutHeaderMs } from "../headers.ts";
import type { CallerLookup } from "../authorize.ts";
import { Call, Refusal, type CallSpec, type Invoker } from "../invoker.ts";
import type { HostRouter } from "../listener.ts";
import { splitInvokePath } from "../listener.ts";
import type { ServiceEntry } from "../services.ts";
import type { TraceIds } from "../trace.ts";
import { BodyError, BufferedBody, StreamedBody, type BodySink } from "./bodies.ts";
import { Forwarder } from "./forward.ts";
import { HEAD_END, HttpError, MAX_HEAD_BYTES, simpleResponse, writeUpstreamPrefix, type RequestHead } from "./http1.ts";
import { isH2Preface } from "../h2/preface.ts";
import { Outbox } from "./outbox.ts";
import { readRequestHead } from "./scan.ts";
import { NO_BODY, RawTransport, type BodySource, type RawReply } from "./transport.ts";
import { NO_ROUTE, type Route, type UpstreamConn, type UpstreamPool } from "./upstream.ts";
import { headToken } from "./head-token.ts";

export const TRACEPARENT = Buffer.from("traceparent: ");
export const CRLF = Buffer.from("\r\n");

/** Pipelined bytes waiting behind the current exchange; more closes the connection. */
const MAX_PIPELINED_BYTES = 256 * 1024;

export interface Engine {
  /** The idle sweep's count (a coarse clock for idle connections). */
  sweeps(): number;
  invoker: Invoker;
  router: HostRouter;
  pool: UpstreamPool;
  trace: TraceIds;
  log: Logger;
  /**
   * Takes a connection whose first bytes are the HTTP/2 preface (h2c on the
   * same port, h2/front.ts); absent = HTTP/1.1 only.
   */
  h2?: (sock: Sock, first: Buffer) => void;
  /**
   * The mesh on (fast/mesh-upstream.ts): the service a caller's token speaks
   * for ("" none, undefined an unknown token), whose certificate its
   * attempts present: one lookup per client connection, which remembers
   * the connection's last token while its answer holds (core/acl/calls.ts
   * callerMemo). Absent = calls go to instances directly.
   */
  callerFor?: () => CallerLookup;
}

export interface Sock {
  write(d: Uint8Array | string): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): boolean;
  remoteAddress: string;
  /** ClientConn, or what serves the connection after an h2 preface (listen.ts). */
  data: ClientConn;
}

export class ClientConn {
  readonly out: Outbox;
  forwarding: Forwarder | null = null;
  /** After a 101 answer: the instance's connection, carrying the new protocol both ways until either side closes. */
  private tunnel: UpstreamConn | null = null;
  private buf: Buffer | null = null;
  /** No byte received yet: the first chunk may be an h2 preface. */
  private fresh = true;
  private busy = false;
  protected closed = false;
  private endWhenFlushed = false;
  protected sink: BodySink | null = null;
  /** Reused by every exchange on this connection (one at a time): no per-call objects. */
  protected readonly t: RawTransport;
  private readonly fw: Forwarder;
  private readonly spec: CallSpec;
  private readonly call: Call<RawReply>;
  /** The request whose call runs (its answer is handled by `answered`). */
  protected head: RequestHead | null = null;
  /** The bytes `head` was read from (their [0, head.text.length)), for the head sent upstream. */
  protected headBytes: Buffer | null = null;
  /** The mesh: which service a token speaks for, for this connection (Engine.callerFor). */
  private readonly callerOf: CallerLookup | null;
  /** writeUpstreamPrefix's options: the same for every request of the connection. */
  private readonly fwdOpts: { ip: string; mesh: boolean };
  private readonly answered = (r: RawReply | Refusal): void => this.answer(r);
  protected readonly ip: string;
  /** route()'s answer for Host routing, reused (read at once by exchange()). */
  private readonly routed = { service: "", target: "" };
  /** The idle sweep's count when the last exchange ended (-1 while one runs). */
  idleSweep: number;

  constructor(
    private readonly sock: Sock,
    protected readonly e: Engine,
    sweeps: number,
  ) {
    this.out = new Outbox(sock, () => this.pauseUpstream(true), () => this.flushed());
    this.ip = sock.remoteAddress ?? "";
    this.idleSweep = sweeps;
    this.t = new RawTransport(e.pool, {
      interim: (b) => void (!this.head?.http10 && this.out.write(b)), // an HTTP/1.0 client knows no 1xx
      crashed: (err) => this.crashed(err),
    });
    this.fw = new Forwarder(this, e.pool, () => !this.sink || this.sink.complete);
    this.spec = { svc: undefined!, method: "", replayable: true, timeoutMs: 0, tryMs: 0, started: 0, aborted: () => this.closed };
    this.call = new Call(e.invoker, this.t, (err) => this.crashed(err));
    this.callerOf = e.callerFor ? e.callerFor() : null;
    this.fwdOpts = { ip: this.ip, mesh: this.callerOf !== null };
  }

  /** Idle since the sweep count `before` or earlier: closed (keep-alive connections are not kept forever). */
  closeIfIdle(before: number): void {
    if (!this.busy && !this.buf && this.idleSweep <= before) this.sock.terminate();
  }

  onData(d: Buffer): void {
    if (this.fresh) {
      this.fresh = false;
      if (this.e.h2 && isH2Preface(d)) return this.e.h2(this.sock, d);
    }
    if (this.tunnel) return void this.tunnel.out.write(d);
    if (this.sink && !this.sink.complete) {
      const left = this.sink.feed(d);
      if (left === null) return;
      d = left;
    }
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (!this.busy) this.pump();
    else if (this.buf.byteLength > MAX_PIPELINED_BYTES) this.sock.terminate();
  }

  onClose(): void {
    this.closed = true;
    this.tunnel?.close();
    this.t.abort();
    this.sink?.abort();
    this.forwarding?.clientGone();
  }

  // ClientSide (forward.ts) and ClientFlow (bodies.ts)
  finished(close: boolean): void {
    this.busy = false;
    this.sink = null;
    this.headBytes = null; // an exchange that ended before start() (a refusal, the mesh's own path) kept it
    if (close || this.closed) return this.close();
    this.idleSweep = this.e.sweeps();
    if (this.buf) this.pump();
  }

  broken(): void {
    this.sock.terminate();
  }

  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }

  fail(err: BodyError): void {
    if (this.forwarding) return this.sock.terminate(); // mid-answer: no room for an error response
    this.dropCall();
    this.sink = null;
    this.respond(err.status, new Refusal(err.status, err.status === 413 ? "BODY_TOO_LARGE" : "BAD_REQUEST", err.message).json(), true);
  }

  private flushed(): void {
    if (this.endWhenFlushed) return this.sock.end();
    this.pauseUpstream(false);
  }

  /** Our send buffer to the client is full (or drained): stop (or resume) reading the instance. */
  private pauseUpstream(paused: boolean): void {
    const t = this.tunnel;
    if (!t) return this.forwarding?.pause(paused);
    if (t.paused === paused) return;
    t.paused = paused;
    if (paused) t.socket.pause();
    else t.socket.resume();
  }

  /**
   * The instance switched protocols (101): its head goes to the client as
   * received (Connection and Upgrade are what the client waits for), then
   * bytes pass both ways, with backpressure each way, until one side closes.
   * The connection never goes back to the pool.
   */
  private startTunnel(r: RawReply): void {
    const conn = r.conn;
    this.tunnel = conn;
    this.out.write(r.received);
    // The instance's send buffer is full: stop reading the client.
    conn.bodyPaused = (paused) => (paused ? this.sock.pause() : this.sock.resume());
    r.handOver({
      data: (d) => void this.out.write(d),
      closed: () => this.close(),
    });
    const early = this.buf; // what the client sent after its request, already in the new protocol
    this.buf = null;
    if (early) conn.out.write(early);
  }

  private close(): void {
    this.closed = true;
    if (this.out.blocked) this.endWhenFlushed = true;
    else this.sock.end();
  }

  protected respond(status: number, json: string, close: boolean): void {
    this.out.write(Buffer.from(simpleResponse(status, json, close))); // UTF-8: the JSON may quote what the client sent
    this.finished(close);
  }

  /** Starts the next request whose head is complete in the buffer. */
  private pump(): void {
    if (this.busy || this.closed || !this.buf) return;
    const buf = this.buf;
    const end = buf.indexOf(HEAD_END);
    if (end < 0 ? buf.byteLength > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) {
      this.buf = null;
      this.busy = true;
      return this.respond(431, new Refusal(431, "HEAD_TOO_LARGE", `request head larger than ${MAX_HEAD_BYTES} bytes`).json(), true);
    }
    if (end < 0) return;
    this.buf = end + 4 < buf.byteLength ? buf.subarray(end + 4) : null;
    this.busy = true;
    try {
      let head: RequestHead;
      try {
        head = readRequestHead(buf, end);
        this.headBytes = buf;
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        return this.respond(err.status, new Refusal(err.status, "BAD_REQUEST", err.message).json(), true);
      }
      this.exchange(head);
    } catch (err) {
      this.crashed(err);
    }
  }

  /** Our own code threw mid-exchange: a 502 if the answer has not begun, else the connection is dropped. */
  crashed(err: unknown): void {
    this.e.log.warn("invoke: call failed", { err });
    if (this.closed) return;
    if (this.forwarding) return this.sock.terminate();
    this.dropCall();
    this.respond(502, new Refusal(502, "INVOKE_FAILED", `call failed: ${(err as Error)?.message ?? err}`).json(), true);
  }

  protected exchange(head: RequestHead): void {
    const started = performance.now();
    const route = this.route(head);
    // An upgrade with a body (no client sends one) would mix the body with the new protocol's bytes.
    if (head.upgrade !== null && (head.contentLength > 0 || head.chunked)) {
      return this.refuse(head, new Refusal(501, "UPGRADE_WITH_BODY", "a protocol upgrade request with a body is not proxied"), true);
    }
    if (!route) return this.refuse(head, new Refusal(404, "NO_SERVICE_IN_HOST", `Host ${JSON.stringify(head.host ?? "")} names no service: use "Host: <service>" or "<service>.service.<domain>", or the path /v1/invoke/<service>/... with an IP address or localhost as Host`));
    const body = this.takeBody(head);
    if (body instanceof Refusal) return this.refuse(head, body);
    const target = route.target;
    // The caller's token as the API reads it (?token=, X-Consul-Token, X-Corral-Token, Bearer): the same for admission and the mesh.
    const token = headToken(head);
    const admitted = this.e.invoker.admit(route.service, token, started);
    if (admitted instanceof Promise) this.admitLater(admitted, head, target, body, token, started);
    else this.admitted(head, target, body, admitted, token, started);
  }

  // The closures of the slower paths live in functions of their own: a function
  // whose variables a closure captures allocates their scope on every call,
  // whichever path it takes — garbage on every request (docs/invoke.md, "Performance").

  private admitLater(admitted: Promise<ServiceEntry | Refusal>, head: RequestHead, target: string, body: BufferedBody | StreamedBody | null, token: string | undefined, started: number): void {
    admitted.then((svc) => this.admitted(head, target, body, svc, token, started)).catch((err) => this.crashed(err));
  }

  private admitted(head: RequestHead, target: string, body: BufferedBody | StreamedBody | null, svc: ServiceEntry | Refusal, token: string | undefined, started: number): void {
    if (svc instanceof Refusal) return this.refuse(head, svc);
    if (this.callerOf) this.startAsCaller(this.callerOf, head, target, body, svc, token, started);
    else if (body instanceof BufferedBody && !body.complete) this.startWithBody(body, head, target, svc, started);
    else this.start(head, target, body, svc, started);
  }

  /** The mesh: which service's certificate the attempts present, from the caller's token (an unknown token: none). */
  private startAsCaller(callerOf: CallerLookup, head: RequestHead, target: string, body: BufferedBody | StreamedBody | null, svc: ServiceEntry, token: string | undefined, started: number): void {
    // The token admission read (exchange): the same caller for the intention check and the mesh.
    const known = callerOf(token);
    // The connection's token again, its answer still holding: no promise, no closure.
    if (!(known instanceof Promise) && !(body instanceof BufferedBody && !body.complete)) {
      return this.start(head, target, body, svc, started, { service: svc.name.toLowerCase(), caller: known ?? "" });
    }
    const caller = Promise.resolve(known);
    caller.catch(() => {}); // observed below; a client gone before its body must not leave it unhandled
    const go = () => caller.then((c) => this.start(head, target, body, svc, started, { service: svc.name.toLowerCase(), caller: c ?? "" }));
    if (body instanceof BufferedBody && !body.complete) body.done.then(go, () => {}).catch((err) => this.crashed(err));
    else go().catch((err) => this.crashed(err));
  }

  /** A client gone before its body arrived is the end of it: nothing to answer. */
  private startWithBody(body: BufferedBody, head: RequestHead, target: string, svc: ServiceEntry, started: number): void {
    body.done.then(() => this.start(head, target, body, svc, started), () => {}).catch((err) => this.crashed(err));
  }

  /** Starts the call: the request goes to an instance now when one has an idle connection. */
  private start(head: RequestHead, target: string, body: BufferedBody | StreamedBody | null, svc: ServiceEntry, started: number, route: Route = NO_ROUTE): void {
    if (this.closed) return;
    const source: BodySource = body instanceof BufferedBody ? { buffered: body.value } : (body ?? NO_BODY);
    // The head goes upstream as bytes: the client's, copied, and corral's fields written around them (head-bytes.ts).
    const out = this.t.sendHead;
    out.clear();
    out.src = this.headBytes;
    writeUpstreamPrefix(head, target, this.fwdOpts, out);
    out.src = null;
    out.bytes(TRACEPARENT);
    this.e.trace.writeNext(head.traceparent, out);
    out.bytes(CRLF);
    this.headBytes = null;
    this.head = head;
    this.t.reset(null, head.method, source, route);
    const policy = svc.policy;
    const spec = this.spec;
    spec.svc = svc;
    spec.method = head.method;
    spec.replayable = !(body instanceof StreamedBody);
    spec.started = started;
    spec.timeoutMs = head.timeout === null ? policy.timeoutMs : (timeoutHeaderMs(head.timeout) ?? policy.timeoutMs);
    spec.tryMs = head.tryTimeout === null ? policy.tryTimeoutMs : (timeoutHeaderMs(head.tryTimeout) ?? policy.tryTimeoutMs);
    this.call.start(spec, this.answered);
  }

  /** The exchange ends without the call's answer (corral answers itself): an attempt in flight is abandoned. */
  private dropCall(): void {
    this.head = null; // what the call still reports is ignored
    this.t.abort();
  }

  /** The call's outcome: an instance's answer to pass on, or corral's own. */
  protected answer(r: RawReply | Refusal): void {
    const head = this.head;
    this.head = null;
    if (this.closed || !head) return void (r instanceof Refusal || r.conn.close());
    if (r instanceof Refusal) return this.refuse(head, r);
    if (head.upgrade !== null && r.status === 101) return this.startTunnel(r);
    // An upgrade the instance declined: the client may still switch on its own, so the connection ends with the answer.
    const closeAfter = head.upgrade !== null || !head.keepAlive || r.head.framing === "close" || !(!this.sink || this.sink.complete);
    this.fw.start(r, closeAfter, head.http10 && r.head.framing === "chunked");
  }

  protected refuse(head: RequestHead, r: Refusal, forceClose = false): void {
    if (this.closed) return;
    // A body not read to its end leaves the connection out of step: close it.
    const close = forceClose || !head.keepAlive || (this.sink !== null && !this.sink.complete) || ((head.contentLength > 0 || head.chunked) && !this.sink);
    this.respond(r.status, r.json(), close);
  }

  /** Sets up the body's sink and feeds it what already arrived; a Refusal when the body is refused outright. */
  protected takeBody(head: RequestHead): BufferedBody | StreamedBody | Refusal | null {
    if (head.contentLength <= 0 && !head.chunked) return null;
    const cfg = this.e.invoker.cfg;
    if (cfg.max_request_bytes > 0 && head.contentLength > cfg.max_request_bytes) {
      return new Refusal(413, "BODY_TOO_LARGE", `request body is larger than ${cfg.max_request_bytes} bytes`);
    }
    const sink = !head.chunked && head.contentLength <= cfg.retry_buffer_bytes
      ? new BufferedBody(head.contentLength)
      : new StreamedBody(this, head.contentLength, head.chunked, cfg.max_request_bytes);
    this.sink = sink;
    const pending = this.buf;
    this.buf = null;
    if (pending) {
      const left = sink.feed(pending);
      if (left) this.buf = left;
    }
    return sink;
  }

  private route(head: RequestHead): { service: string; target: string } | undefined {
    let host = head.host;
    let target = head.target;
    if (target[0] !== "/") {
      // absolute-form (a client using us as its HTTP proxy): the authority names the service
      const m = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(target);
      if (!m) return undefined;
      host = m[1]!;
      target = m[2] ? (m[2][0] === "/" ? m[2] : `/${m[2]}`) : "/";
    }
    const service = this.e.router.service(host);
    if (service) {
      // The common case (Host names the service): one result object per connection, not per request.
      const r = this.routed;
      r.service = service;
      r.target = target;
      return r;
    }
    return this.e.router.pathFormAllowed(host) ? splitInvokePath(target) : undefined;
  }
}
