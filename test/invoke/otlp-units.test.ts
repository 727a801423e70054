// The OTLP/JSON encoding and the exporter's answer rules, without a process:
// ids stay hex, nanoseconds are decimal strings, partial success counts as
// dropped, 400 is not retried, Retry-After is read in seconds or as a date.
import { describe, expect, test } from "bun:test";
import { exportTraceServiceRequest, rejectedSpans, retryAfterMs, unixNanos } from "../../plugins/invoke/otlp.ts";
import { OtlpExporter, type DropReason } from "../../plugins/invoke/otlp-exporter.ts";
import { SPAN_KIND_CLIENT, type SpanRecord } from "../../plugins/invoke/spans.ts";
import { TraceIds } from "../../plugins/invoke/trace.ts";

const span = (over: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: "", startMs: 1_700_000_000_123.4567, endMs: 1_700_000_000_125,
  name: "GET web", kind: SPAN_KIND_CLIENT, attributes: { "http.response.status_code": 200, "peer.service": "web", ok: true, ratio: 0.5 }, ...over,
});
const log = { debug() {}, info() {}, warn() {}, error() {}, child() { return log; } } as never;

describe("encoding", () => {
  test("hex ids, nanos as strings, typed attributes, no parent for a root span", () => {
    const body = exportTraceServiceRequest({ attributes: { "service.name": "corral" } }, "0.1.0", [span(), span({ parentSpanId: "1111111111111111", error: "HTTP 502" })]);
    const rs = body.resourceSpans[0]!;
    expect(rs.resource.attributes).toEqual([{ key: "service.name", value: { stringValue: "corral" } }]);
    const [root, child] = rs.scopeSpans[0]!.spans;
    expect(root).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", kind: 3, startTimeUnixNano: "1700000000123457000", endTimeUnixNano: "1700000000125000000", status: {} });
    expect("parentSpanId" in root!).toBe(false);
    expect(root!.attributes).toEqual([
      { key: "http.response.status_code", value: { intValue: "200" } }, { key: "peer.service", value: { stringValue: "web" } },
      { key: "ok", value: { boolValue: true } }, { key: "ratio", value: { doubleValue: 0.5 } },
    ]);
    expect(child).toMatchObject({ parentSpanId: "1111111111111111", status: { code: 2, message: "HTTP 502" } });
    expect(unixNanos(0)).toBe("0");
  });

  test("partialSuccess and Retry-After", () => {
    expect(rejectedSpans({ partialSuccess: { rejectedSpans: "3" } })).toBe(3);
    expect(rejectedSpans({})).toBe(0);
    expect(rejectedSpans(null)).toBe(0);
    expect(retryAfterMs("2", 0, 30_000)).toBe(2000);
    expect(retryAfterMs("999", 0, 30_000)).toBe(30_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000, 30_000)).toBe(5_000);
    expect(retryAfterMs("soon", 0, 30_000)).toBeUndefined();
  });
});

describe("exporter", () => {
  const run = async (answers: Response[], spans: number, opts: { queueSize?: number; batchSize?: number } = {}) => {
    const dropped: [DropReason, number][] = [];
    let exported = 0;
    let calls = 0;
    const ex = new OtlpExporter({
      endpoint: "http://collector/v1/traces", headers: {}, batchSize: opts.batchSize ?? 10, intervalMs: 10, queueSize: opts.queueSize ?? 100, timeoutMs: 1000,
      resource: { attributes: {} }, version: "t", log, random: () => 0,
      fetch: (async () => answers[Math.min(calls++, answers.length - 1)]!.clone()) as unknown as typeof fetch,
      exported: (n) => void (exported += n), dropped: (r, n) => void dropped.push([r, n]),
    });
    for (let i = 0; i < spans; i++) ex.push(span());
    for (let i = 0; i < 100 && exported + dropped.reduce((a, [, n]) => a + n, 0) < spans; i++) await Bun.sleep(20);
    ex.close();
    return { dropped, exported, calls };
  };

  test("a 400 drops the batch without a retry; a partial success counts the rejected spans", async () => {
    expect(await run([new Response("bad", { status: 400 })], 3)).toEqual({ dropped: [["export_failed", 3]], exported: 0, calls: 1 });
    expect(await run([Response.json({ partialSuccess: { rejectedSpans: 1 } })], 3)).toEqual({ dropped: [["rejected", 1]], exported: 2, calls: 1 });
  });

  test("a full queue drops what does not fit, push never waits", async () => {
    const r = await run([Response.json({})], 25, { queueSize: 5, batchSize: 100 });
    expect(r.dropped).toEqual(Array(20).fill(["queue_full", 1]));
    expect(r.exported).toBe(5);
  });

  test("without a recorder, trace ids keep nothing; with one, each traceparent's ids are claimed once", () => {
    const t = new TraceIds();
    t.next(null);
    expect(t.claim()).toBeUndefined();
    t.recording = true;
    const tp = t.next("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect(t.claim()).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanId: "00f067aa0ba902b7", spanId: tp.split("-")[2] });
    expect(t.claim()).toBeUndefined();
    t.next("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    expect(t.claim()).toBeUndefined(); // not sampled
  });
});
