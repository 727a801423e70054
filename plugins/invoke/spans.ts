// The spans of the invoke plugin's hops, recorded for OTLP export (otlp.ts,
// otlp-exporter.ts) when `[plugins.invoke] otlp_endpoint` is set.
//
// One span per call through the proxy (kind CLIENT: corral calls an
// instance on the caller's behalf), its ids those of the traceparent sent
// upstream (trace.ts): trace id kept from the caller, span id = the new
// parent id the instance sees, parent = the caller's span. Retries are
// attributes of the one span (the instance sees one parent id for all
// attempts). With the mesh on, the destination agent records a SERVER span
// of its own (mesh-server.ts), child of the source agent's, and the
// instance's parent is then that one.
//
// Only sampled hops are recorded (traceparent flag 01): a caller that says
// "not sampled" is not exported. Pure apart from the clock.
import type { Endpoint } from "./pool.ts";
import { Refusal, type CallSpec, type Reply } from "./invoker.ts";

/** A hop's ids, from the traceparent made for it (hex, lowercase); parentSpanId "" for a new trace. */
export interface SpanStart {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** Wall clock, ms with sub-ms precision (performance.timeOrigin + performance.now()). */
  startMs: number;
}

export type AttributeValue = string | number | boolean;

/** OTLP SpanKind values used here. */
export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;

/** A finished span, before encoding (otlp.ts). */
export interface SpanRecord extends SpanStart {
  name: string;
  kind: typeof SPAN_KIND_SERVER | typeof SPAN_KIND_CLIENT;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  /** Set when the hop failed (OTLP status ERROR) with why; absent = UNSET, as the HTTP semantic conventions ask for a client's 1xx–4xx. */
  error?: string;
}

/** Where finished spans go (the exporter's bounded queue); must not block. */
export interface SpanSink {
  push(span: SpanRecord): void;
}

/** One call's span while the call runs (Invoker's Call). */
export interface CallSpan {
  /** An attempt went to `ep`. */
  attempt(ep: Endpoint): void;
  /** The call's answer: an instance's, or corral's own. */
  end(r: Reply | Refusal): void;
}

/** What the Invoker asks at the start of each call. */
export interface CallSpans {
  begin(c: CallSpec): CallSpan | undefined;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Spans of calls: the ids the front just put in the traceparent (`claim`), finished into `sink`. */
export function callSpans(claim: () => SpanStart | undefined, sink: SpanSink): CallSpans {
  return {
    begin(c) {
      const start = claim();
      return start ? new ProxySpan(start, c, sink) : undefined;
    },
  };
}

class ProxySpan implements CallSpan {
  private attempts = 0;
  private last: Endpoint | undefined;

  constructor(
    private readonly start: SpanStart,
    private readonly c: CallSpec,
    private readonly sink: SpanSink,
  ) {}

  attempt(ep: Endpoint): void {
    this.attempts++;
    this.last = ep;
  }

  end(r: Reply | Refusal): void {
    const service = this.c.svc.name;
    const attributes: Record<string, AttributeValue> = {
      "http.request.method": this.c.method,
      "http.response.status_code": r.status,
      "peer.service": service,
      "corral.invoke.attempts": this.attempts,
    };
    if (this.last) {
      attributes["server.address"] = this.last.spec.address;
      attributes["server.port"] = this.last.spec.port;
      attributes["corral.invoke.instance"] = this.last.label;
    }
    let error: string | undefined;
    if (r instanceof Refusal) {
      attributes["error.type"] = r.code;
      error = r.message;
    } else if (r.status >= 500) {
      attributes["error.type"] = String(r.status);
      error = `HTTP ${r.status}`;
    }
    this.sink.push({ ...this.start, name: `${this.c.method} ${service}`, kind: SPAN_KIND_CLIENT, endMs: nowMs(), attributes, ...(error ? { error } : {}) });
  }
}
