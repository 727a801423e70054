// A minimal OTLP/HTTP span exporter (`[plugins.invoke] otlp_endpoint`),
// written here because the @opentelemetry/* packages are not in the binary:
// batched, with a bounded queue, never in a call's way.
//
// - push() (on the call path) only appends to an array; when the queue holds
//   otlp_queue_size spans the new one is dropped and counted
//   (corral_invoke_otlp_spans_dropped_total{reason="queue_full"}): a
//   collector that is down or slow costs spans, never memory or latency.
// - A batch (at most otlp_batch_size spans) leaves every otlp_interval, or
//   sooner once a full batch waits, on a timer — never inside push(), so the
//   encoding and the request are not part of any call. One request at a time.
// - The answer, as the OTLP/HTTP spec says: 2xx is done (a partialSuccess
//   with rejectedSpans counts those as dropped, reason "rejected"); 429, 502,
//   503, 504 and a failed connection or timeout are retried with exponential
//   backoff and jitter (Retry-After honoured, capped), at most MAX_RETRIES
//   times; anything else (400, 401, 404, 3xx…) drops the batch at once
//   (reason "export_failed"), as does running out of retries.
// - The body is the OTLP/JSON encoding (otlp.ts), Content-Type
//   application/json, plus otlp_headers (an API key, a tenant). Header values
//   are never logged.
import type { Logger } from "../../core/sdk/index.ts";
import { exportTraceServiceRequest, rejectedSpans, retryAfterMs, RETRYABLE_STATUSES, type OtlpResource } from "./otlp.ts";
import type { SpanRecord, SpanSink } from "./spans.ts";

/** Retries of one batch after its first attempt. */
export const MAX_RETRIES = 5;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Failure warnings are logged at most this often (a collector down for hours is one line a minute). */
const WARN_EVERY_MS = 60_000;

export type DropReason = "queue_full" | "export_failed" | "rejected";

export interface OtlpExporterOptions {
  endpoint: string;
  headers: Record<string, string>;
  batchSize: number;
  intervalMs: number;
  queueSize: number;
  /** One export request may take this long. */
  timeoutMs: number;
  resource: OtlpResource;
  /** The instrumentation scope's version (the plugin's). */
  version: string;
  log: Logger;
  fetch?: typeof fetch;
  /** Random in [0, 1) for the backoff jitter. */
  random?: () => number;
  exported?: (n: number) => void;
  dropped?: (reason: DropReason, n: number) => void;
}

export class OtlpExporter implements SpanSink {
  private queue: SpanRecord[] = [];
  private sending = false;
  private soon: ReturnType<typeof setTimeout> | undefined;
  private readonly tick: ReturnType<typeof setInterval>;
  private inflight: AbortController | undefined;
  private closed = false;
  private lastWarn = -Infinity;
  readonly stats = { exported: 0, dropped: 0 };

  constructor(private readonly o: OtlpExporterOptions) {
    this.tick = setInterval(() => this.flush(), o.intervalMs);
    this.tick.unref?.();
  }

  /** Spans waiting to be sent. */
  get queued(): number {
    return this.queue.length;
  }

  push(span: SpanRecord): void {
    if (this.closed) return;
    if (this.queue.length >= this.o.queueSize) return this.drop("queue_full", 1);
    this.queue.push(span);
    // A full batch goes out without waiting for the interval, but on a timer of its own: not in this call.
    if (this.queue.length >= this.o.batchSize && !this.sending && !this.soon) {
      this.soon = setTimeout(() => {
        this.soon = undefined;
        this.flush();
      }, 0);
    }
  }

  /** Sends the next batch unless one is on its way. */
  flush(): void {
    if (this.sending || this.closed || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.o.batchSize);
    this.sending = true;
    void this.send(batch).finally(() => {
      this.sending = false;
      if (this.queue.length >= this.o.batchSize) this.flush();
    });
  }

  /** Stops the timers and abandons a request in flight; queued spans are dropped (not counted: the node is going away). */
  close(): void {
    this.closed = true;
    clearInterval(this.tick);
    if (this.soon) clearTimeout(this.soon);
    this.inflight?.abort();
    this.queue = [];
  }

  private async send(batch: SpanRecord[]): Promise<void> {
    const body = JSON.stringify(exportTraceServiceRequest(this.o.resource, this.o.version, batch));
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return;
      const out = await this.post(body);
      if (this.closed) return;
      if (out.ok) {
        const rejected = Math.min(batch.length, out.rejected);
        if (rejected > 0) this.drop("rejected", rejected);
        this.stats.exported += batch.length - rejected;
        this.o.exported?.(batch.length - rejected);
        return;
      }
      if (!out.retryable || attempt >= MAX_RETRIES) {
        this.warn(`OTLP export failed, ${batch.length} spans dropped`, out.why);
        return this.drop("export_failed", batch.length);
      }
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.5 + 0.5 * (this.o.random ?? Math.random)());
      await new Promise((r) => setTimeout(r, out.retryAfterMs ?? backoff));
    }
  }

  private async post(body: string): Promise<{ ok: true; rejected: number } | { ok: false; retryable: boolean; why: string; retryAfterMs?: number }> {
    const ctl = new AbortController();
    this.inflight = ctl;
    const timer = setTimeout(() => ctl.abort(), this.o.timeoutMs);
    try {
      const res = await (this.o.fetch ?? fetch)(this.o.endpoint, {
        method: "POST", headers: { ...this.o.headers, "content-type": "application/json" }, body, signal: ctl.signal, redirect: "manual",
      });
      const text = await res.text().catch(() => "");
      if (res.status >= 200 && res.status < 300) {
        let parsed: unknown = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {} // an answer that is not JSON still means the spans were taken
        return { ok: true, rejected: rejectedSpans(parsed) };
      }
      return {
        ok: false, retryable: RETRYABLE_STATUSES.has(res.status), why: `HTTP ${res.status} ${text.slice(0, 200)}`.trim(),
        retryAfterMs: retryAfterMs(res.headers.get("retry-after"), Date.now(), BACKOFF_MAX_MS),
      };
    } catch (err) {
      // Refused, reset, DNS, timeout: the collector may come back; retried.
      return { ok: false, retryable: true, why: ctl.signal.aborted ? `no answer within ${this.o.timeoutMs} ms` : String((err as Error)?.message ?? err).slice(0, 200) };
    } finally {
      clearTimeout(timer);
      if (this.inflight === ctl) this.inflight = undefined;
    }
  }

  private drop(reason: DropReason, n: number): void {
    this.stats.dropped += n;
    this.o.dropped?.(reason, n);
  }

  private warn(msg: string, why: string): void {
    const now = performance.now();
    if (now - this.lastWarn < WARN_EVERY_MS) return;
    this.lastWarn = now;
    this.o.log.warn(`invoke: ${msg}`, { endpoint: withoutUserinfo(this.o.endpoint), why });
  }
}

/** The endpoint as logged: user:password@ in a URL is a credential. */
function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return "(invalid URL)";
  }
}
