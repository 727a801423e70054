// The fetch-based front: a WHATWG Request in, a Response out. Serves the API
// route (/v1/invoke/...) and the proxy listener where raw sockets are not
// available (Node, Deno) or not wanted (engine = "fetch"). Request and
// response bodies are streams handed from one side to the other, never read
// into memory here, except small request bodies kept for a retry.
import { limitBody, readBody, type Payload } from "./body.ts";
import { withoutTokenParam } from "./credentials.ts";
import { requestToken } from "../../core/sdk/index.ts";
import { stripResponseHopHeaders, timeoutHeaderMs, TIMEOUT_HEADER, TRY_TIMEOUT_HEADER, upstreamHeaders, type ClientInfo } from "./headers.ts";
import { Refusal, type Invoker, type Transport } from "./invoker.ts";
import type { Endpoint } from "./pool.ts";
import { classifyError, type FailureKind } from "./retry.ts";
import type { TraceIds } from "./trace.ts";

/** `ep`: the instance called (the mesh sends the call to its node's agent instead, mesh-client.ts). */
export type FetchFn = (url: string, init: RequestInit & { decompress?: boolean }, ep?: Endpoint) => Promise<Response>;
export type CallHandler = (req: Request, service: string, target: string, client: ClientInfo) => Promise<Response>;

function isUpgrade(h: Headers): boolean {
  return h.has("upgrade") && /(^|,)\s*upgrade\s*(,|$)/i.test(h.get("connection") ?? "");
}

function reply(r: Refusal): Response {
  return new Response(r.json(), { status: r.status, headers: { "content-type": "application/json" } });
}

/** One call's attempts over fetch: same headers and (replayable) body each time, a timer per attempt. */
class FetchTransport implements Transport<Response> {
  constructor(
    private readonly fetch: FetchFn,
    private readonly method: string,
    private readonly target: string,
    private readonly headers: Headers,
    private readonly payload: Payload,
    private readonly signal: AbortSignal,
  ) {}

  send(ep: Endpoint, tryMs: number, settle: (out: Response | FailureKind) => void): void {
    void this.attempt(ep, tryMs).then(settle);
  }

  private async attempt(ep: Endpoint, tryMs: number): Promise<Response | FailureKind> {
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, tryMs);
    // Only until the headers: aborting later would cut the body the client is reading.
    const onClientGone = () => ctl.abort();
    this.signal.addEventListener("abort", onClientGone);
    try {
      return await this.fetch(ep.base + this.target, {
        method: this.method, headers: this.headers, body: this.payload.body, signal: ctl.signal, redirect: "manual", decompress: false,
        ...(this.payload.stream ? { duplex: "half" } : null),
      } as RequestInit, ep);
    } catch (err) {
      return timedOut ? "timeout" : this.signal.aborted ? "aborted" : classifyError(err);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener("abort", onClientGone);
    }
  }

  discard(r: Response): void {
    void r.body?.cancel().catch(() => {});
  }
}

export function fetchCaller(invoker: Invoker, fetchFn: FetchFn, trace: TraceIds): CallHandler {
  const cfg = invoker.cfg;
  return async (req, name, target, client) => {
    // fetch cannot hand a connection over to another protocol; passing the
    // request on as a plain one would leave the client waiting for a 101.
    if (isUpgrade(req.headers)) {
      return reply(new Refusal(501, "UPGRADE_NOT_SUPPORTED", "protocol upgrades (WebSocket) are tunnelled only by the proxy listener's sockets engine (plugins.invoke.engine = \"sockets\", under Bun)"));
    }
    const started = performance.now();
    // The token the ACL middleware judged the call by (core/acl/secret.ts), not another header's.
    const svc = await invoker.admit(name, requestToken(req.url, (n) => req.headers.get(n) ?? undefined) || undefined, started);
    if (svc instanceof Refusal) return reply(svc);
    const payload = await readBody(req, cfg.retry_buffer_bytes);
    const max = cfg.max_request_bytes;
    if (max > 0 && payload.length > max) return reply(invoker.refuse(svc, started, 413, "too_large", "BODY_TOO_LARGE", `request body is larger than ${max} bytes`));
    if (max > 0 && payload.stream) payload.body = limitBody(payload.body as ReadableStream<Uint8Array>, max);
    const policy = svc.policy;
    const transport = new FetchTransport(fetchFn, req.method, withoutTokenParam(target), upstreamHeaders(req.headers, client, trace), payload, req.signal);
    const r = await invoker.run({
      svc, method: req.method, replayable: payload.replayable, started,
      timeoutMs: timeoutHeaderMs(req.headers.get(TIMEOUT_HEADER)) ?? policy.timeoutMs,
      tryMs: timeoutHeaderMs(req.headers.get(TRY_TIMEOUT_HEADER)) ?? policy.tryTimeoutMs,
      aborted: () => req.signal.aborted,
    }, transport);
    if (r instanceof Refusal) return r.status === 499 ? new Response(null, { status: 499 }) : reply(r);
    stripResponseHopHeaders(r.headers);
    return r;
  };
}
