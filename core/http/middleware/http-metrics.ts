// Request metrics: corral_http_requests_total{method,route,status} and
// corral_http_request_duration_seconds{method,route}. `route` is the matched
// route pattern ("/v1/node/{id}"), never the raw path: one series per route,
// not per key or id a client sends (label cardinality). Mounted first, so
// requests the later middlewares refuse (401, 413) are counted too.
//
// For a streamed answer (/v1/events) the duration ends when the handler
// returns the response, not when the stream closes.
import type { Context, MiddlewareHandler } from "hono";
import { answeredRoutePath } from "../answered-route.ts";
import { Counter, Histogram, type Registry } from "prom-client";

export interface HttpMetricsOptions {
  registry: Registry;
  /** Histogram buckets, seconds. */
  buckets?: number[];
  /** Clock in ms (tests). */
  now?: () => number;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The label for a request no route matched (404s for random paths must not create series). */
export const UNMATCHED_ROUTE = "unmatched";

/** "/v1/kv/:key{.*}" → "/v1/kv/{key}"; "/v1/node/:id" → "/v1/node/{id}". */
export function routePattern(honoPath: string): string {
  return honoPath.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}");
}

/** The pattern of the route that answered the request (core/http/answered-route.ts). */
export function routeLabel(c: Context): string {
  const path = answeredRoutePath(c);
  return path === undefined ? UNMATCHED_ROUTE : routePattern(path);
}

/** The two request series; the middleware feeds them, and so do the metered fast paths that bypass it (core/http/fast-dispatch.ts). */
export class HttpMetrics {
  readonly now: () => number;
  private requests: Counter;
  private duration: Histogram;

  /** Answers taken by observeAfterAnswer, not yet counted: [method, route, status, seconds]. */
  private deferred: [string, string, number, number][] = [];
  private flushScheduled = false;

  constructor(opts: HttpMetricsOptions) {
    this.now = opts.now ?? (() => performance.now());
    // A read of either series (a /metrics scrape, a test) first counts what observeAfterAnswer deferred.
    const collect = () => this.flush();
    this.requests = new Counter({
      name: "corral_http_requests_total", help: "HTTP requests answered, by method, route pattern and status",
      labelNames: ["method", "route", "status"], registers: [opts.registry], collect,
    });
    this.duration = new Histogram({
      name: "corral_http_request_duration_seconds", help: "Time to answer an HTTP request (until the response starts), by method and route pattern",
      labelNames: ["method", "route"], registers: [opts.registry], collect,
      buckets: opts.buckets ?? [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
  }

  /** One answered request; `started` is this.now() when it arrived. */
  observe(method: string, route: string, status: number, started: number): void {
    this.record(method, route, status, (this.now() - started) / 1000);
  }

  /**
   * observe(), with the duration taken now and the counting (prom-client's
   * label hashing and bucket search, 10-17 µs) done after the answer has been
   * handed to the server: on the fast paths it ran between the answer and its
   * write, on every replicated write's critical path (docs/raft.md, "Where one
   * commit's time goes"). Counted on the next event-loop turn, or sooner by
   * any read of the series.
   */
  observeAfterAnswer(method: string, route: string, status: number, started: number): void {
    this.deferred.push([method, route, status, (this.now() - started) / 1000]);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.deferred;
    if (pending.length === 0) return;
    this.deferred = [];
    for (const [method, route, status, seconds] of pending) this.record(method, route, status, seconds);
  }

  private record(method: string, route: string, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : "OTHER";
    this.requests.inc({ method: m, route, status: String(status) });
    this.duration.observe({ method: m, route }, seconds);
  }

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const started = this.now();
      try {
        await next();
      } finally {
        this.observe(c.req.method, routeLabel(c), c.res.status, started);
      }
    };
  }
}

export function httpMetrics(opts: HttpMetricsOptions): MiddlewareHandler {
  return new HttpMetrics(opts).middleware();
}
