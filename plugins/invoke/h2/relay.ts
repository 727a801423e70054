// The proxy listener's HTTP/2 side as a frame-level relay: an h2c client
// connection (handed over by the raw-socket listener when its first bytes are
// the h2 preface) is read frame by frame (wire.ts), each stream is one call
// through the same Invoker as HTTP/1.1 — routing by :authority like Host,
// intentions (authorize.ts, via admit), timeouts, retries, breakers,
// metrics — and goes to the chosen instance as a stream of its h2c
// connection (relay-upstream.ts). Header blocks are decoded and re-encoded
// (HPACK state is per connection); DATA payloads are passed on as they came,
// under a new frame header.
//
// Flow control, both ways: a stream's bytes are passed on only within the
// receiver's windows (stream and connection); what does not fit waits here,
// and the sender is granted window again only for what was passed on — so
// a slow receiver slows the sender down, and at most our own window
// (STREAM_WINDOW per stream, CONN_WINDOW per connection) waits in memory.
//
// This replaced a node:http2 server and client (front.ts, sessions.ts: still
// the code for callers that need node:http2 sessions) to cut what the hop
// adds to a gRPC call: docs/invoke.md, "Performance", "### gRPC".
import { type Logger } from "../../../core/sdk/index.ts";
import { proxyCallerToken } from "../fast/head-token.ts";
import { withoutTokenParam } from "../credentials.ts";
import { Deadlines, type Timed } from "../fast/upstream.ts";
import { timeoutHeaderMs, TIMEOUT_HEADER, TRY_TIMEOUT_HEADER } from "../headers.ts";
import { Call, Refusal, type CallSpec, type Invoker, type Transport } from "../invoker.ts";
import { splitInvokePath, type HostRouter } from "../listener.ts";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";
import type { TraceIds } from "../trace.ts";
import { downstreamFields, first, upstreamFields } from "./fields.ts";
import { encodeGrpcMessage, grpcStatusFor, grpcTimeoutMs, isGrpc } from "./grpc.ts";
import { HpackEncoder, type Field } from "./hpack.ts";
import { Flow } from "./flow.ts";
import { UpstreamH2Pool, type UpstreamH2, type UpstreamStream } from "./relay-upstream.ts";
import { ERR, FLAG, FRAME, H2Wire, STREAM_WINDOW, type RawSocket } from "./wire.ts";

export interface H2RelayDeps {
  invoker: Invoker;
  router: HostRouter;
  trace: TraceIds;
  log: Logger;
  /** A client connection with no open stream for this long is closed (as HTTP/1.1 keep-alive ones are; default 120 s). */
  idleMs?: number;
}

/** What the listener's socket callbacks feed once a connection is h2 (listen.ts). */
export interface AdoptedConn {
  onData(d: Buffer): void;
  out: { drain(): void };
  onClose(): void;
}

/** Serves h2c connections handed over by the raw-socket listener (listen.ts). */
export interface H2Server {
  adopt(sock: RawSocket & { remoteAddress?: string }, first: Buffer): AdoptedConn;
  close(): void;
}

const MAX_STREAMS = 1000;
const PREFACE_BYTES = 24;

/** An instance's answer at its response headers. */
interface Answer {
  status: number;
  fields: Field[];
  /** Trailers-only (the headers ended the stream): a gRPC error. */
  end: boolean;
}

export class H2Relay implements H2Server {
  readonly upstreams = new UpstreamH2Pool();
  readonly deadlines = new Deadlines();
  readonly encoder = new HpackEncoder();
  private readonly conns = new Set<ClientH2>();
  private readonly idleTimer: ReturnType<typeof setInterval>;
  readonly idleMs: number;

  constructor(readonly d: H2RelayDeps) {
    this.idleMs = d.idleMs ?? 120_000;
    // Idle client connections are looked for every quarter of the idle time: closed within 1–1.25 × idleMs.
    this.idleTimer = setInterval(() => {
      const cutoff = performance.now() - this.idleMs;
      for (const c of this.conns) if (c.open === 0 && c.idleSince <= cutoff) c.close();
    }, Math.max(50, this.idleMs / 4));
    (this.idleTimer as { unref?: () => void }).unref?.();
  }

  adopt(sock: RawSocket & { remoteAddress?: string }, firstBytes: Buffer): AdoptedConn {
    const c = new ClientH2(this, sock, sock.remoteAddress ?? "", () => this.conns.delete(c));
    this.conns.add(c);
    c.bytes(firstBytes);
    return c;
  }

  close(): void {
    clearInterval(this.idleTimer);
    for (const c of this.conns) c.close();
    this.upstreams.close();
    this.deadlines.stop();
  }
}

/** A client's h2c connection (corral is the server). */
class ClientH2 extends H2Wire implements AdoptedConn {
  readonly streams = new Map<number, CallStream>();
  private lastId = 0;
  /** Streams not yet closed both ways (idle sweep). */
  open = 0;
  idleSince = performance.now();
  /** We sent GOAWAY: no new stream. */
  private closing = false;

  constructor(
    readonly relay: H2Relay,
    sock: RawSocket,
    readonly ip: string,
    private readonly forget: () => void,
  ) {
    super(sock, relay.encoder);
    this.skip = PREFACE_BYTES; // preface.ts saw it start; the rest is checked by the first frame having to be SETTINGS
    this.hello([[H2Wire.SETTING.MAX_CONCURRENT_STREAMS, MAX_STREAMS], [H2Wire.SETTING.INITIAL_WINDOW_SIZE, STREAM_WINDOW], [H2Wire.SETTING.MAX_HEADER_LIST_SIZE, 64 * 1024]]);
  }

  // AdoptedConn: the listener's socket callbacks.
  onData(d: Buffer): void {
    this.bytes(d);
  }
  readonly out = { drain: (): void => this.drain() };
  onClose(): void {
    this.gone();
  }

  /** Graceful: GOAWAY, then the socket ends. */
  close(): void {
    if (this.closed) return;
    this.closing = true;
    this.goaway(this.lastId, ERR.NO_ERROR);
    this.flush();
    this.closed = true;
    this.sock.end();
    this.gone();
  }

  protected override lastPeerStream(): number {
    return this.lastId;
  }

  release(id: number): void {
    if (!this.streams.delete(id) || --this.open > 0) return;
    this.idleSince = performance.now();
    if (this.closing) this.close(); // the client sent GOAWAY: done once its last stream is
  }

  protected onHeaders(id: number, fields: Field[], endStream: boolean): void {
    const s = this.streams.get(id);
    if (s) return s.clientTrailers(fields, endStream);
    if (!(id & 1)) return this.fail(ERR.PROTOCOL_ERROR, `stream ${id}: clients open odd-numbered streams`);
    // A stream we already closed (we reset it, or answered and it ended): frames the client sent before it
    // heard of that are ignored (RFC 9113 §5.4.2; the header block was decoded, the HPACK table is in step).
    if (id <= this.lastId) return;
    this.lastId = id;
    if (this.closing) return;
    if (this.open >= MAX_STREAMS) return this.reset(id, ERR.REFUSED_STREAM);
    const call = new CallStream(this, id);
    this.streams.set(id, call);
    this.open++;
    // A throw here is a bug of ours: that call fails (502 INVOKE_FAILED), the connection and its other streams go on.
    try {
      call.start(fields, endStream);
    } catch (err) {
      call.failed(err);
    }
  }
  protected onDataFrame(id: number, payload: Uint8Array, flowLen: number, endStream: boolean): void {
    const s = this.streams.get(id);
    if (s) s.clientData(payload, flowLen, endStream);
    else this.consumed(flowLen);
  }
  protected onReset(id: number, _code: number): void {
    this.streams.get(id)?.clientGone();
  }
  protected onStreamWindow(id: number, increment: number): void {
    this.streams.get(id)?.toClient.grow(increment);
  }
  protected onInitialWindowChange(delta: number): void {
    for (const s of this.streams.values()) s.toClient.grow(delta);
  }
  protected onHeadersTooLarge(id: number): void {
    const s = this.streams.get(id);
    if (s) return s.clientGone();
    if (id > this.lastId) this.lastId = id;
    const stream = new CallStream(this, id);
    this.streams.set(id, stream);
    this.open++;
    stream.refuse(false, new Refusal(431, "HEADERS_TOO_LARGE", "request header list is larger than 65536 bytes"));
  }
  protected onGoaway(): void {
    this.closing = true;
    if (this.open === 0) this.close();
  }
  protected onGone(): void {
    this.forget();
    for (const s of [...this.streams.values()]) s.clientGone();
  }
}

/**
 * One client stream = one call: admitted and routed, then attempts through
 * the call loop (this is its Transport), then the answer relayed.
 */
class CallStream implements Transport<Answer>, UpstreamStream {
  readonly toUp: Flow;
  readonly toClient: Flow;
  private grpc = false;
  private spec: CallSpec | null = null;
  /** Fields for the instance (pseudo-headers but :authority first, then the rest): made once per call. */
  private upFields: Field[] = [];
  private maxBytes = 0;
  private bytesIn = 0;
  private tooLarge = false;
  /** The client reset the stream or went away. */
  private aborted = false;
  /** The attempt in flight, waiting for its answer's headers. */
  private settle: ((out: Answer | FailureKind) => void) | null = null;
  private timed: Timed | null = null;
  /** The attempt's (then the answer's) upstream connection and stream id. */
  private up: UpstreamH2 | null = null;
  private upId = 0;
  /** The answer is being relayed to the client. */
  private relaying = false;
  /** The instance's side of the stream ended (END_STREAM or reset). */
  private upEnded = false;
  /** Our side to the client is finished (END_STREAM sent, or reset). */
  private clientDone = false;

  constructor(
    private readonly client: ClientH2,
    readonly id: number,
  ) {
    this.toUp = new Flow(client, id, () => this.upSent());
    this.toClient = new Flow(client, 0, () => this.clientSent());
    this.toClient.to = client;
    this.toClient.toId = id;
    this.toClient.window = client.peerInitialWindow;
  }

  private get relay(): H2Relay {
    return this.client.relay;
  }

  // ---- the client's side

  start(fields: Field[], endStream: boolean): void {
    if (endStream) this.toUp.ended = true;
    const started = performance.now();
    const inv = this.relay.d.invoker;
    let method = "GET";
    let path = "/";
    let authority: string | null = null;
    const regular: Field[] = [];
    for (const f of fields) {
      const n = f[0];
      if (n.charCodeAt(0) !== 58) regular.push(f);
      else if (n === ":method") method = f[1];
      else if (n === ":path") path = f[1];
      else if (n === ":authority") authority = f[1];
    }
    authority ??= first(regular, "host") ?? null;
    this.grpc = isGrpc(first(regular, "content-type"));
    let target = path;
    const router = this.relay.d.router;
    let name = router.service(authority);
    if (!name) {
      const byPath = router.pathFormAllowed(authority) ? splitInvokePath(target) : undefined;
      if (!byPath) return this.refuse(this.grpc, new Refusal(404, "NO_SERVICE_IN_HOST", `:authority ${JSON.stringify(authority ?? "")} names no service: use "<service>" or "<service>.service.<domain>", or the path /v1/invoke/<service>/... with an IP address or localhost`));
      name = byPath.service;
      target = byPath.target;
    }
    const header = (n: string): string | undefined => first(regular, n);
    // The token matters only to intentions: not read (a URL parse) when ACLs are off.
    const token = inv.d.authorizer.enabled() ? proxyCallerToken(target.startsWith("/") ? target : "/", header) : undefined;
    const admitted = inv.admit(name, token, started);
    const go = (svc: Exclude<typeof admitted, Promise<unknown>>): void => {
      if (svc instanceof Refusal) return this.refuse(this.grpc, svc);
      if (this.aborted) return;
      this.call(svc, method, target, authority, regular, header, started);
    };
    if (admitted instanceof Promise) {
      admitted.then(go).catch((err) => this.failed(err));
    } else go(admitted);
  }

  private call(svc: Exclude<ReturnType<Invoker["admit"]>, Promise<unknown> | Refusal>, method: string, target: string, authority: string | null, regular: Field[], header: (n: string) => string | undefined, started: number): void {
    const inv = this.relay.d.invoker;
    const spec: CallSpec = (this.spec = {
      svc, method, replayable: true, started,
      timeoutMs: grpcTimeoutMs(header("grpc-timeout")) ?? timeoutHeaderMs(header(TIMEOUT_HEADER) ?? null) ?? svc.policy.timeoutMs,
      tryMs: timeoutHeaderMs(header(TRY_TIMEOUT_HEADER) ?? null) ?? svc.policy.tryTimeoutMs,
      aborted: () => this.aborted || this.tooLarge,
    });
    const max = (this.maxBytes = inv.cfg.max_request_bytes);
    if (max > 0 && Number(header("content-length") ?? 0) > max) return this.refuse(this.grpc, this.tooLargeRefusal());
    if (max > 0 && this.bytesIn > max) return this.refuse(this.grpc, this.tooLargeRefusal());
    // The caller's ?token= stays here, as on HTTP/1.1 (credentials.ts).
    this.upFields = [[":method", method], [":scheme", "http"], [":path", withoutTokenParam(target)], [":authority", ""], ...upstreamFields(regular, authority, { ip: this.client.ip, proto: "http" }, this.relay.d.trace)];
    new Call(inv, this, (err) => this.failed(err)).start(spec, (out) => this.answered(out));
  }

  private tooLargeRefusal(): Refusal {
    const inv = this.relay.d.invoker;
    return inv.refuse(this.spec?.svc, this.spec?.started ?? performance.now(), 413, "too_large", "BODY_TOO_LARGE", `request body is larger than ${this.maxBytes} bytes`);
  }

  failed(err: unknown): void {
    this.relay.d.log.warn("invoke: h2 call failed", { err });
    this.settle = null;
    if (this.timed) this.relay.deadlines.delete(this.timed);
    this.cancelUp();
    this.refuse(this.grpc, new Refusal(502, "INVOKE_FAILED", `call failed: ${(err as Error)?.message ?? String(err)}`));
  }

  clientData(payload: Uint8Array, flowLen: number, endStream: boolean): void {
    this.bytesIn += payload.byteLength;
    if (this.maxBytes > 0 && this.bytesIn > this.maxBytes && !this.tooLarge) this.cut();
    this.toUp.push(payload, flowLen, endStream);
    if (endStream) this.maybeDone();
  }

  clientTrailers(fields: Field[], endStream: boolean): void {
    if (!endStream) return this.clientGone(); // HEADERS mid-stream without END_STREAM: malformed (RFC 9113 §8.1)
    this.toUp.trailers = downstreamFields(fields);
    this.toUp.push(new Uint8Array(0), 0, true);
    this.maybeDone();
  }

  /** The client reset the stream or its connection is gone: the instance's stream is cancelled. */
  clientGone(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.clientDone = true;
    this.toUp.ended = true;
    this.toClient.stop();
    this.toUp.stop();
    this.client.release(this.id);
    if (this.settle) return this.finish("aborted");
    this.cancelUp();
  }

  /** More than max_request_bytes: the instance's stream is cut; the call is a 413 / RESOURCE_EXHAUSTED. */
  private cut(): void {
    this.tooLarge = true;
    this.toUp.stop();
    if (this.settle) return this.finish("aborted");
    if (this.relaying) {
      this.cancelUp();
      this.resetClient(ERR.CANCEL);
    }
  }

  // ---- Transport: one attempt

  send(ep: Endpoint, tryMs: number, settle: (out: Answer | FailureKind) => void): void {
    this.settle = settle;
    const timed: Timed = (this.timed = {
      deadline: performance.now() + tryMs,
      timedSlot: -1, // not waiting yet (Deadlines owns it)
      finish: () => {
        if (this.settle === settle) this.finish("timeout");
      },
    });
    this.relay.deadlines.add(timed);
    this.relay.upstreams.get(ep, (c) => {
      if (this.settle !== settle) return; // timed out or aborted meanwhile
      if (c === "refused" || c === "protocol") return this.finish(c);
      if (this.aborted || this.tooLarge) return this.finish("aborted");
      // At the instance's SETTINGS_MAX_CONCURRENT_STREAMS: wait for one of them to close (within the try timeout).
      c.whenRoom(() => this.settle === settle && this.open(c, ep));
    });
  }

  /** Opens the attempt's stream on the instance's connection and starts the request body on its way. */
  private open(c: UpstreamH2, ep: Endpoint): void {
    if (this.aborted || this.tooLarge) return this.finish("aborted");
    if (!c.usable) return this.finish("refused"); // gone or draining while this attempt waited: nothing was sent
    this.upFields[3]![1] = ep.hostPort;
    this.up = c;
    const whole = this.toUp.ended && this.toUp.empty && !this.toUp.trailers;
    this.upId = c.open(this, this.upFields, whole);
    // From here the client's body is being consumed: this call cannot be sent again.
    this.spec!.replayable = false;
    this.toUp.to = c;
    this.toUp.toId = this.upId;
    this.toUp.window = c.peerInitialWindow;
    if (whole) this.toUp.done = true;
    else this.toUp.pump();
  }

  discard(_r: Answer): void {
    this.cancelUp();
  }

  /** Settles the attempt in flight; a failure cancels its instance stream. */
  private finish(out: Answer | FailureKind): void {
    const settle = this.settle;
    if (!settle) return;
    this.settle = null;
    if (this.timed) this.relay.deadlines.delete(this.timed);
    this.timed = null;
    if (typeof out === "string") this.cancelUp();
    settle(out);
  }

  /** Resets and forgets the instance's stream (if any). */
  private cancelUp(): void {
    const up = this.up;
    if (!up) return;
    this.up = null;
    if (!this.upEnded || !this.toUp.done) up.reset(this.upId, ERR.CANCEL);
    up.release(this.upId);
    this.toUp.to = null;
    this.toUp.stop();
  }

  // ---- UpstreamStream: the instance's side

  upHeaders(fields: Field[], endStream: boolean): void {
    if (this.relaying) {
      // Trailers.
      this.toClient.trailers = downstreamFields(fields);
      this.upEnded = true;
      this.toClient.push(new Uint8Array(0), 0, true);
      return this.maybeDone();
    }
    const status = Number(first(fields, ":status"));
    if (status >= 100 && status < 200) return; // informational: not passed on
    if (endStream) this.upEnded = true;
    if (!this.settle) return;
    this.finish({ status: Number.isFinite(status) ? status : 502, fields, end: endStream });
  }

  upData(payload: Uint8Array, flowLen: number, endStream: boolean): void {
    if (endStream) this.upEnded = true;
    // The answer starts in the same turn as its headers arrive (the call loop settles synchronously):
    // DATA before that belongs to an answer being discarded (a retry).
    if (!this.relaying) {
      this.up?.consumed(flowLen);
      return;
    }
    this.toClient.push(payload, flowLen, endStream);
    if (endStream) this.maybeDone();
  }

  upReset(code: number): void {
    this.upEnded = true;
    const up = this.up;
    this.up = null;
    up?.release(this.upId);
    this.toUp.stop();
    if (this.settle) return this.finish("reset");
    if (!this.relaying || this.clientDone) return;
    // The answer was complete: the instance only says it needs no more of the request.
    if (code === ERR.NO_ERROR && this.toClient.ended) return;
    // Reset by the instance mid-answer: the client's stream is reset too, not ended as if complete.
    this.toClient.stop();
    this.resetClient(code === ERR.NO_ERROR ? ERR.INTERNAL_ERROR : code);
  }

  upWindow(increment: number): void {
    this.toUp.grow(increment);
  }

  // ---- the answer

  private answered(out: Answer | Refusal): void {
    if (this.aborted) {
      if (!(out instanceof Refusal)) this.cancelUp();
      return;
    }
    if (this.tooLarge) {
      if (!(out instanceof Refusal)) this.cancelUp();
      return this.refuse(this.grpc, this.tooLargeRefusal());
    }
    if (out instanceof Refusal) return this.refuse(this.grpc, out);
    const head: Field[] = [[":status", String(out.status)], ...downstreamFields(out.fields)];
    this.client.writeHeaders(this.id, head, out.end);
    if (out.end) {
      this.cancelUp();
      return this.clientSent();
    }
    this.relaying = true;
    // What the instance sends is granted back to the instance as it reaches the client.
    this.toClient.from = this.up!;
    this.toClient.fromId = this.upId;
  }

  /** corral's own answer: a gRPC status (trailers-only) for gRPC clients, JSON otherwise. */
  refuse(grpc: boolean, r: Refusal): void {
    if (this.clientDone || this.aborted) return;
    this.toUp.stop();
    if (grpc) {
      this.client.writeHeaders(this.id, [[":status", "200"], ["content-type", "application/grpc"], ["grpc-status", String(grpcStatusFor(r.code, r.status))], ["grpc-message", encodeGrpcMessage(r.message)]], true);
    } else if (r.status === 499) {
      return this.resetClient(ERR.CANCEL);
    } else {
      const body = Buffer.from(r.json(), "utf8");
      this.client.writeHeaders(this.id, [[":status", String(r.status)], ["content-type", "application/json"], ["content-length", String(body.byteLength)]], false);
      this.client.write(FRAME.DATA, FLAG.END_STREAM, this.id, body);
    }
    this.clientSent();
  }

  private resetClient(code: number): void {
    if (this.clientDone) return;
    this.client.reset(this.id, code);
    this.clientDone = true;
    this.toUp.ended = true;
    this.toClient.stop();
    this.toUp.stop();
    this.client.release(this.id);
  }

  // ---- closing

  /** Our side to the client is complete. */
  private clientSent(): void {
    this.clientDone = true;
    this.toClient.done = true;
    this.maybeDone();
  }

  /** The request went out whole. */
  private upSent(): void {
    this.maybeDone();
  }

  /** Both directions done on a connection: it forgets the stream. */
  private maybeDone(): void {
    if (this.clientDone && this.toUp.ended) this.client.release(this.id);
    if (this.up && this.upEnded && this.toUp.done) {
      this.up.release(this.upId);
      this.up = null;
    }
  }
}
