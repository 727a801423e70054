// `[plugins.invoke]`: the proxy listener, the default call policy (balancing,
// timeouts, retries, retry budget, outlier ejection) and per-service
// overrides under `[plugins.invoke.services.<name>]`.
import { isIP } from "node:net";
import { z } from "zod";
import { durationMs, sizeBytes } from "../../core/sdk/index.ts";

export const STRATEGIES = ["round_robin", "least_request", "p2c", "weighted"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** RFC 9110 §9.2.2 idempotent methods (TRACE aside): safe to send twice. */
export const DEFAULT_RETRY_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];

const domainName = z.string().transform((text, ctx) => {
  const d = text.toLowerCase().replace(/\.+$/, "");
  if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(d)) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is not a usable domain (expected e.g. "corral.")` });
    return z.NEVER;
  }
  return d;
});

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

const method = z.string().regex(/^[A-Za-z]{1,20}$/).transform((m) => m.toUpperCase());

/** What may differ per service (config table or PUT /v1/invoke-config/{service}). */
export const servicePolicySchema = z
  .object({
    strategy: z.enum(STRATEGIES).optional(),
    try_timeout: durationMs({ min: 1, max: 3_600_000 }).optional(),
    timeout: durationMs({ min: 1, max: 3_600_000 }).optional(),
    max_retries: z.number().int().min(0).max(10).optional(),
  })
  .strict();

export const invokeConfigSchema = z
  .object({
    /** Port of the plain HTTP proxy listener; 0 picks a free port. */
    port: z.number().int().min(0).max(65535).default(7701),
    /** Address the proxy listener binds. */
    bind: z.string().refine((s) => isIP(s) !== 0, { message: 'must be an IP address such as "127.0.0.1" or "0.0.0.0"' }).default("127.0.0.1"),
    /** How the listener speaks HTTP: "sockets" (corral's own HTTP/1.1 over raw sockets; Bun only) or "fetch" (Bun.serve + fetch). */
    engine: z.enum(["sockets", "fetch"]).default("sockets"),
    /** `Host: <service>.service.<domain>` is routed to <service>. Stored without the trailing dot. */
    domain: domainName.prefault("corral."),
    /** Balancing strategy unless a service sets its own. */
    strategy: z.enum(STRATEGIES).default("p2c"),
    /** One attempt may wait this long for the response headers. */
    try_timeout: durationMs({ min: 1, max: 3_600_000 }).prefault("5s"),
    /** All attempts and backoffs of one call together, until response headers. */
    timeout: durationMs({ min: 1, max: 3_600_000 }).prefault("15s"),
    /** Retries after the first attempt (so at most max_retries + 1 attempts). */
    max_retries: z.number().int().min(0).max(10).default(2),
    /** Methods retried after a timeout, a reset or a 502/503/504 (a refused connection is retried for any method). */
    retry_methods: z.array(method).max(20).default(DEFAULT_RETRY_METHODS),
    /** Upstream statuses that count as a failed attempt worth retrying. */
    retry_statuses: z.array(z.number().int().min(500).max(599)).max(20).default([502, 503, 504]),
    /** Backoff before retry n is uniform in [0, min(backoff_max, backoff_base * 2^(n-1))]. */
    backoff_base: durationMs({ min: 0, max: 60_000 }).prefault("25ms"),
    backoff_max: durationMs({ min: 0, max: 60_000 }).prefault("250ms"),
    /** Retries allowed as a share (percent) of the requests of the budget window. */
    retry_budget_percent: z.number().min(0).max(100).default(20),
    /** Retries always allowed per second on top of the percentage (a quiet service can still retry). */
    retry_budget_min_per_second: z.number().min(0).max(10_000).default(3),
    /** The sliding window over which requests and retries are counted. */
    retry_budget_window: durationMs({ min: 1000, max: 600_000 }).prefault("10s"),
    /** Request bodies up to this size are buffered so they can be sent again; larger or unsized ones stream and get one attempt. */
    retry_buffer_bytes: sizeBytes({ min: 0, max: 64 * 1024 * 1024 }).prefault("64KiB"),
    /** Largest request body accepted (streamed, counted); 0 = no limit of our own. */
    max_request_bytes: sizeBytes({ min: 0 }).prefault("0"),
    /** Consecutive failures (5xx, refused, reset, timeout) that eject an instance. */
    consecutive_failures: z.number().int().min(1).max(1000).default(5),
    /** The first ejection lasts this long; the n-th lasts n times as long. */
    base_ejection_time: durationMs({ min: 1, max: 3_600_000 }).prefault("30s"),
    /** No ejection lasts longer than this. */
    max_ejection_time: durationMs({ min: 1, max: 24 * 3_600_000 }).prefault("5m"),
    /** At most this share (percent, rounded down) of a service's healthy instances is ejected at once. */
    max_ejection_percent: z.number().int().min(0).max(100).default(50),
    /** How long one blocking catalog query waits for a change before it is renewed. */
    watch_wait: durationMs({ min: 1000, max: 600_000 }).prefault("60s"),
    /** A service's catalog watch is dropped after this long without calls. */
    watch_idle: durationMs({ min: 1000, max: 24 * 3_600_000 }).prefault("5m"),
    /** Services watched at once on this node; calls to one more service get 503 until others go idle. */
    max_services: z.number().int().min(1).max(100_000).default(1000),
    /**
     * Service mesh (docs/mesh.md): calls leave this node over mutual TLS to the
     * destination instance's agent, which checks the intention from the
     * caller's certificate. Every node of the cluster should agree on it.
     */
    mesh: z.boolean().default(false),
    /** Port of the mesh's mTLS listener, the same on every node (peers reach a node at its address and this port); 0 picks a free one (tests). */
    mesh_port: z.number().int().min(0).max(65535).default(7702),
    /** Address the mTLS listener binds; "" = the node's advertised address (what peers see in the catalog). */
    mesh_bind: z.string().refine((s) => s === "" || isIP(s) !== 0, { message: 'must be "" or an IP address' }).default(""),
    /** Lifetime of the leaf certificates this node asks for; renewed at half their life. */
    mesh_leaf_ttl: durationMs({ min: 10_000, max: 30 * 24 * 3_600_000 }).prefault("72h"),
    /**
     * OTLP/HTTP trace export (docs/monitoring.md#traces-otlp): the URL spans are POSTed to in the OTLP
     * JSON encoding, e.g. "http://127.0.0.1:4318/v1/traces"; "" = no spans recorded.
     */
    otlp_endpoint: z
      .string()
      .max(2048)
      .refine((s) => s === "" || isHttpUrl(s), { message: 'must be "" or an http:// or https:// URL such as "http://127.0.0.1:4318/v1/traces"' })
      .default(""),
    /** Headers sent with every export (an API key, a tenant id); content-type is always application/json. */
    otlp_headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, "must be an HTTP header name"), z.string().max(8192).regex(/^[^\r\n\0]*$/, "must not contain line breaks"))
      .default({}),
    /** Spans per export request at most. */
    otlp_batch_size: z.number().int().min(1).max(10_000).default(512),
    /** A batch leaves at least this often (sooner when a full batch waits). */
    otlp_interval: durationMs({ min: 10, max: 600_000 }).prefault("5s"),
    /** Spans waiting at most; more are dropped and counted (corral_invoke_otlp_spans_dropped_total{reason="queue_full"}). */
    otlp_queue_size: z.number().int().min(1).max(1_000_000).default(2048),
    /** One export request may take this long before it counts as failed (and is retried). */
    otlp_timeout: durationMs({ min: 100, max: 600_000 }).prefault("10s"),
    /** Per-service overrides: `[plugins.invoke.services.<name>]` with strategy, try_timeout, timeout, max_retries. */
    services: z.record(z.string().min(1).max(128), servicePolicySchema).default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.backoff_max < c.backoff_base) ctx.addIssue({ code: "custom", path: ["backoff_max"], message: "backoff_max must be at least backoff_base" });
    if (c.max_ejection_time < c.base_ejection_time) {
      ctx.addIssue({ code: "custom", path: ["max_ejection_time"], message: "max_ejection_time must be at least base_ejection_time" });
    }
  });

/** Durations in ms, sizes in bytes, domain lowercase without the trailing dot. */
export type InvokeConfig = z.output<typeof invokeConfigSchema>;
export type ServicePolicyInput = z.output<typeof servicePolicySchema>;

/** The policy one call runs under: defaults, then the service's table, then the run-time override. */
export interface ServicePolicy {
  strategy: Strategy;
  tryTimeoutMs: number;
  timeoutMs: number;
  maxRetries: number;
}

export function effectivePolicy(cfg: InvokeConfig, name: string, override?: ServicePolicyInput): ServicePolicy {
  const table = serviceTable(cfg, name);
  const pick = <K extends keyof ServicePolicyInput>(k: K, dflt: NonNullable<ServicePolicyInput[K]>) => override?.[k] ?? table?.[k] ?? dflt;
  return {
    strategy: pick("strategy", cfg.strategy),
    tryTimeoutMs: pick("try_timeout", cfg.try_timeout),
    timeoutMs: pick("timeout", cfg.timeout),
    maxRetries: pick("max_retries", cfg.max_retries),
  };
}

/** Service names compare case-insensitively (Consul's rule). */
export function serviceTable(cfg: InvokeConfig, name: string): ServicePolicyInput | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(cfg.services)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
