// The OTLP/JSON encoding of an ExportTraceServiceRequest (OpenTelemetry
// protocol spec, "JSON Protobuf Encoding"): the protobuf messages as JSON
// with lowerCamelCase field names, trace and span ids as lowercase hex (not
// base64, unlike protobuf's generic JSON mapping), 64-bit integers (the
// nanosecond timestamps, intValue) as decimal strings, enums (SpanKind,
// StatusCode) as integers. One ResourceSpans for this node, one ScopeSpans.
// Pure.
import type { AttributeValue, SpanRecord } from "./spans.ts";

/** The instrumentation scope every span is reported under. */
export const SCOPE_NAME = "corral.invoke";

/** OTLP Status.code */
const STATUS_ERROR = 2;

export interface OtlpResource {
  /** Resource attributes: service.name and the node's identity (otlp-exporter.ts). */
  attributes: Record<string, AttributeValue>;
}

export type OtlpAnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export function anyValue(v: AttributeValue): OtlpAnyValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

export function keyValues(attrs: Record<string, AttributeValue>): OtlpKeyValue[] {
  return Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));
}

/** ms since the epoch (with a fraction) as uint64 nanoseconds in a decimal string; microsecond precision. */
export function unixNanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

export function encodeSpan(s: SpanRecord) {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: unixNanos(s.startMs),
    endTimeUnixNano: unixNanos(Math.max(s.startMs, s.endMs)),
    attributes: keyValues(s.attributes),
    status: s.error !== undefined ? { code: STATUS_ERROR, message: s.error } : {},
  };
}

/** The body of POST /v1/traces (Content-Type: application/json). */
export function exportTraceServiceRequest(resource: OtlpResource, scopeVersion: string, spans: readonly SpanRecord[]) {
  return {
    resourceSpans: [{
      resource: { attributes: keyValues(resource.attributes) },
      scopeSpans: [{ scope: { name: SCOPE_NAME, version: scopeVersion }, spans: spans.map(encodeSpan) }],
    }],
  };
}

/**
 * How many spans an answer says the collector refused: ExportTraceServiceResponse
 * `partialSuccess.rejectedSpans` (0 when the body is empty or not that shape).
 */
export function rejectedSpans(body: unknown): number {
  const n = (body as { partialSuccess?: { rejectedSpans?: unknown } } | null)?.partialSuccess?.rejectedSpans;
  const v = typeof n === "string" ? Number(n) : n;
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/** OTLP/HTTP: these statuses (and a failed connection) are retried, with backoff; any other failure drops the batch. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** A Retry-After header (seconds or an HTTP date) in ms, capped at `maxMs`; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number, maxMs: number): number | undefined {
  if (!value) return undefined;
  const secs = Number(value.trim());
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - nowMs;
  return Number.isFinite(ms) ? Math.min(maxMs, Math.max(0, ms)) : undefined;
}
