// OTLP/HTTP export of the invoke plugin's spans, on real dev processes, to a
// real HTTP collector in the test: the span of a call made through the
// proxy listener (sockets engine) and through the /v1/invoke route (fetch
// front) carries the caller's trace id, the caller's span as parent, the
// span id the instance saw as its parent, and the call's attributes; an
// unsampled call is not exported; a collector answering 503/429 gets the
// batch again; a collector that is down changes nothing for calls while the
// drop counter moves.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, getJson, killAll, startCorral, freePort, type CorralProcess } from "../helpers/proc.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing, type Backend } from "./helpers.ts";
import { attrs, startCollector, type Collector } from "./otlp-collector.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

const metric = async (node: CorralProcess, series: string): Promise<number> => {
  const text = await (await fetch(node.url + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : NaN;
};

describe("OTLP export to a running collector", () => {
  let node: CorralProcess;
  let backend: Backend;
  let collector: Collector;
  let port = 0;

  beforeAll(async () => {
    collector = startCollector();
    node = await startCorral({
      role: "dev",
      config: `[node]\nname = "otlp-node"\n\n[plugins.invoke]\nport = 0\notlp_endpoint = "${collector.url}"\notlp_interval = "100ms"\notlp_headers = { "x-api-key" = "k-123" }\n`,
    });
    backend = await startBackend("a");
    await register(node, "web", backend);
    await waitPassing(node, "web", 1);
    port = await proxyPort(node);
  }, 60_000);
  afterAll(async () => {
    collector.stop();
    await killBackends();
    await killAll();
  });

  const spanOf = (spanId: string) => eventually(() => collector.spans.find((s) => s.spanId === spanId), 10_000, 50);

  test("a call through the proxy listener: trace id, parent, span id the instance saw, attributes, resource", async () => {
    const r = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "web", traceparent: `00-${TRACE}-${CALLER_SPAN}-01` } });
    expect(r.status).toBe(200);
    const seen = r.body.headers.traceparent as string;
    const [, trace, spanId] = seen.split("-");
    expect(trace).toBe(TRACE);
    const span = await spanOf(spanId!);
    expect(span.traceId).toBe(TRACE);
    expect(span.parentSpanId).toBe(CALLER_SPAN);
    expect(span.kind).toBe(3); // CLIENT
    expect(span.name).toBe("GET web");
    expect(attrs(span.attributes)).toMatchObject({
      "http.request.method": "GET", "http.response.status_code": 200, "peer.service": "web", "corral.invoke.attempts": 1,
      "server.address": "127.0.0.1", "server.port": backend.port,
    });
    expect(span.status.code ?? 0).toBe(0);
    const start = BigInt(span.startTimeUnixNano);
    const end = BigInt(span.endTimeUnixNano);
    expect(end >= start).toBe(true);
    expect(Math.abs(Number(start / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    expect(span.resource).toMatchObject({ "service.name": "corral", "service.instance.id": "otlp-node" });
    expect(span.scope.name).toBe("corral.invoke");
    const req = collector.requests.at(-1)!;
    expect(req.headers.get("x-api-key")).toBe("k-123");
    expect(req.headers.get("content-type")).toBe("application/json");
  });

  test("through /v1/invoke (the fetch front): a new trace when the caller sends none; an error answer is an ERROR span", async () => {
    const r = await getJson(`${node.url}/v1/invoke/web/echo`);
    const [, trace, spanId] = (r.body.headers.traceparent as string).split("-");
    const span = await spanOf(spanId!);
    expect(span.traceId).toBe(trace);
    expect(span.parentSpanId ?? "").toBe("");

    await backend.control("fail=503");
    try {
      const failed = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "web", traceparent: `00-${TRACE}-1111111111111111-01` } });
      expect(failed.status).toBe(503);
      const span503 = await eventually(() => collector.spans.find((s) => s.parentSpanId === "1111111111111111"), 10_000, 50);
      expect(span503.status.code).toBe(2);
      expect(attrs(span503.attributes)["http.response.status_code"]).toBe(503);
    } finally {
      await backend.control("fail=0");
    }
    const unknown = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "nope", traceparent: `00-${TRACE}-2222222222222222-01` } });
    expect(unknown.status).toBe(404);
  });

  test("an unsampled call (flags 00) is not exported", async () => {
    const r = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "web", traceparent: `00-${TRACE}-3333333333333333-00` } });
    const spanId = (r.body.headers.traceparent as string).split("-")[2];
    // A sampled call after it is exported; by then the unsampled one would have been too.
    const after = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "web", traceparent: `00-${TRACE}-4444444444444444-01` } });
    await spanOf((after.body.headers.traceparent as string).split("-")[2]!);
    expect(collector.spans.find((s) => s.spanId === spanId || s.parentSpanId === "3333333333333333")).toBeUndefined();
  });

  test("503 and 429 from the collector: the same batch is sent again and arrives", async () => {
    const before = collector.requests.length;
    collector.script([503, 429]);
    const r = await getJson(`http://127.0.0.1:${port}/echo`, { headers: { host: "web", traceparent: `00-${TRACE}-5555555555555555-01` } });
    const span = await eventually(() => collector.spans.find((s) => s.spanId === (r.body.headers.traceparent as string).split("-")[2]), 15_000, 50);
    expect(span.parentSpanId).toBe("5555555555555555");
    expect(collector.requests.slice(before).map((q) => q.status).slice(0, 3)).toEqual([503, 429, 200]);
    expect(await metric(node, 'corral_invoke_otlp_spans_dropped_total{reason="export_failed"}')).toBe(0);
    expect(await metric(node, "corral_invoke_otlp_spans_exported_total")).toBeGreaterThanOrEqual(collector.spans.length);
  }, 30_000);
});

describe("collector down", () => {
  test("calls are unaffected; spans beyond the queue are dropped and counted", async () => {
    const dead = await freePort(); // nothing listens there
    const node = await startCorral({
      role: "dev",
      config: `[plugins.invoke]\nport = 0\notlp_endpoint = "http://127.0.0.1:${dead}/v1/traces"\notlp_interval = "50ms"\notlp_batch_size = 5\notlp_queue_size = 10\n`,
    });
    const backend = await startBackend("down-b");
    try {
      await register(node, "web", backend);
      await waitPassing(node, "web", 1);
      const port = await proxyPort(node);
      expect(await metric(node, 'corral_invoke_otlp_spans_dropped_total{reason="queue_full"}')).toBe(0);
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: "web" } });
        statuses.push(r.status);
        await r.text();
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      // 60 spans, one batch of 5 retrying, 10 queued: the rest are dropped.
      expect(await metric(node, 'corral_invoke_otlp_spans_dropped_total{reason="queue_full"}')).toBeGreaterThanOrEqual(40);
      expect(await metric(node, "corral_invoke_otlp_queued_spans")).toBeLessThanOrEqual(10);
      expect(await metric(node, "corral_invoke_otlp_spans_exported_total")).toBe(0);
    } finally {
      await killBackends();
      await killAll();
    }
  }, 60_000);
});
