// Span export wired into the invoke plugin: when `otlp_endpoint` is set, the
// trace ids (trace.ts) start recording, the call loop gets its span hook
// (spans.ts) and finished spans go to the OTLP exporter, whose counters are
// on /metrics. Everything it starts is released through ctx.own.
import type { PluginContext } from "../../core/sdk/index.ts";
import type { InvokeConfig } from "./config.ts";
import { OtlpExporter } from "./otlp-exporter.ts";
import { callSpans, type CallSpans, type SpanSink } from "./spans.ts";
import type { TraceIds } from "./trace.ts";

export interface Tracing {
  /** The Invoker's hook. */
  calls: CallSpans;
  /** Where other hops (the mesh listener) put their spans. */
  sink: SpanSink;
}

/** undefined when export is off: nothing recorded, nothing on the call path. */
export function startTracing(ctx: PluginContext<InvokeConfig>, trace: TraceIds, version: string): Tracing | undefined {
  const cfg = ctx.config;
  if (!cfg.otlp_endpoint) return undefined;
  const exported = ctx.metrics.counter({ name: "corral_invoke_otlp_spans_exported_total", help: "Spans the OTLP collector accepted" });
  const dropped = ctx.metrics.counter({
    name: "corral_invoke_otlp_spans_dropped_total", help: "Spans not exported: queue_full (the collector is slow or down), export_failed (refused or retries spent), rejected (partial success)",
    labelNames: ["reason"] as const,
  });
  for (const reason of ["queue_full", "export_failed", "rejected"]) dropped.inc({ reason }, 0);
  const exporter: OtlpExporter = new OtlpExporter({
    endpoint: cfg.otlp_endpoint, headers: cfg.otlp_headers, batchSize: cfg.otlp_batch_size, intervalMs: cfg.otlp_interval,
    queueSize: cfg.otlp_queue_size, timeoutMs: cfg.otlp_timeout, version, log: ctx.log,
    resource: {
      attributes: {
        "service.name": "corral",
        "service.instance.id": ctx.host.nodeName,
        "host.name": ctx.host.nodeName,
        "corral.datacenter": ctx.host.datacenter,
      },
    },
    exported: (n) => exported.inc(n),
    dropped: (reason, n) => dropped.inc({ reason }, n),
  });
  const queued = ctx.metrics.gauge({ name: "corral_invoke_otlp_queued_spans", help: "Spans waiting to be exported (at most otlp_queue_size)", collect: () => void queued.set(exporter.queued) });
  ctx.own({ close: () => exporter.close() });
  trace.recording = true;
  ctx.own({ close: () => void (trace.recording = false) });
  return { calls: callSpans(() => trace.claim(), exporter), sink: exporter };
}
