// The invoke plugin's Prometheus series. Per-attempt counts are plain numbers
// on the endpoint, exported when scraped; per-service children are looked up
// once and kept on the service entry.
import type { Counter, Gauge } from "prom-client";
import type { FastHistogram, HistogramChild, MetricsRegistry } from "../../core/sdk/index.ts";
import type { Endpoint } from "./pool.ts";
import type { ServiceEntry } from "./services.ts";

/** Latency buckets (seconds): sub-millisecond proxying up to long timeouts. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Attempt outcomes, the `code` label of corral_invoke_requests_total (index = Endpoint.counts slot). */
export const CODES = ["1xx", "2xx", "3xx", "4xx", "5xx", "error", "timeout"] as const;
export const CODE_ERROR = 5;
export const CODE_TIMEOUT = 6;

/** The CODES slot of an HTTP status. */
export function codeSlot(status: number): number {
  return status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 4;
}

/** Why corral itself answered instead of an instance. */
export type ErrorKind = "unknown_service" | "no_instance" | "timeout" | "unavailable" | "denied" | "catalog" | "too_many_services" | "too_large";

interface Inc {
  inc(): void;
}

export class InvokeMetrics {
  private readonly requests: Counter<"service" | "instance" | "code">;
  private readonly errors: Counter<"service" | "kind">;
  private readonly latency: FastHistogram<"service">;
  private readonly retries: Counter<"service">;
  private readonly ejections: Counter<"service" | "instance">;
  private readonly exhausted: Counter<"service">;

  constructor(m: MetricsRegistry, services: () => ServiceEntry[]) {
    // Counted in plain numbers on each endpoint (the hot path does no label
    // hashing) and handed to prom-client when scraped.
    const requests: Counter<"service" | "instance" | "code"> = m.counter({
      name: "corral_invoke_requests_total", help: "Attempts sent to service instances, by status class (or error, timeout)",
      labelNames: ["service", "instance", "code"] as const,
      collect: () => {
        requests.reset();
        for (const svc of services()) {
          for (const e of svc.pool.endpoints) {
            e.counts.forEach((n, i) => n > 0 && requests.inc({ service: svc.name, instance: e.label, code: CODES[i]! }, n));
          }
        }
      },
    } as Parameters<MetricsRegistry["counter"]>[0]);
    this.requests = requests;
    this.errors = m.counter({
      name: "corral_invoke_errors_total", help: "Calls answered by corral instead of an instance, by reason",
      labelNames: ["service", "kind"] as const,
    });
    this.latency = m.histogram({
      name: "corral_invoke_request_duration_seconds", help: "Call duration until the response headers, retries included",
      labelNames: ["service"] as const, buckets: BUCKETS,
    });
    this.retries = m.counter({ name: "corral_invoke_retries_total", help: "Attempts sent again after a failure", labelNames: ["service"] as const });
    this.ejections = m.counter({
      name: "corral_invoke_ejections_total", help: "Instances ejected by the circuit breaker", labelNames: ["service", "instance"] as const,
    });
    this.exhausted = m.counter({
      name: "corral_invoke_retry_budget_exhausted_total", help: "Retries refused because the retry budget was spent", labelNames: ["service"] as const,
    });
    const gauge: Gauge = m.gauge({
      name: "corral_invoke_watched_services", help: "Services with a live catalog watch on this node",
      collect: (): void => gauge.set(services().length),
    });
  }

  /** One attempt's outcome on an instance: an index into CODES. */
  attempt(e: Endpoint, code: number): void {
    e.counts[code]!++;
  }

  observe(svc: ServiceEntry, seconds: number): void {
    let child = svc.metrics.latency as HistogramChild | undefined;
    if (!child) child = svc.metrics.latency = this.latency.labels(svc.name);
    child.observe(seconds);
  }

  retry(svc: ServiceEntry): void {
    this.child(svc, "retries", () => this.retries.labels(svc.name)).inc();
  }

  budgetExhausted(svc: ServiceEntry): void {
    this.child(svc, "exhausted", () => this.exhausted.labels(svc.name)).inc();
  }

  ejected(svc: ServiceEntry, e: Endpoint): void {
    this.ejections.inc({ service: svc.name, instance: e.label });
  }

  error(service: string, kind: ErrorKind): void {
    this.errors.inc({ service, kind });
  }


  private child(svc: ServiceEntry, key: string, make: () => Inc): Inc {
    let c = svc.metrics[key] as Inc | undefined;
    if (!c) c = svc.metrics[key] = make();
    return c;
  }
}
