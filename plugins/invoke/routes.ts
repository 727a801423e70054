// API routes: /v1/invoke/{service}/{path} (the call itself, any method) and
// /v1/invoke-config (the listener, per-service policy with node-local
// run-time overrides, and what the balancer sees).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, errorResponses, jsonBody, jsonResponse, type PluginContext } from "../../core/sdk/index.ts";
import { effectivePolicy, servicePolicySchema, STRATEGIES, type InvokeConfig, type ServicePolicyInput } from "./config.ts";
import type { CallHandler } from "./fetch.ts";
import { pathAndQuery, splitInvokePath } from "./listener.ts";
import type { ServiceEntry, ServiceRegistry } from "./services.ts";

const tags = ["invoke"];
const METHODS = ["get", "post", "put", "delete", "patch", "options"] as const;

const Policy = z.object({ strategy: z.enum(STRATEGIES), tryTimeoutMs: z.number(), timeoutMs: z.number(), maxRetries: z.number() });
const Instance = z.object({
  id: z.string(), node: z.string(), address: z.string(), port: z.number(), weight: z.number(),
  inflight: z.number(), breaker: z.enum(["closed", "open", "half-open"]), ejections: z.number(), ejectedUntil: z.number().nullable(),
});
const ServiceStatus = z.object({
  service: z.string(), watched: z.boolean(), exists: z.boolean(), policy: Policy,
  override: z.record(z.string(), z.unknown()).nullable(), instances: z.array(Instance),
  budget: z.object({ requests: z.number(), retries: z.number(), allowance: z.number(), exhausted: z.number() }).nullable(),
}).openapi("InvokeServiceStatus");
const PolicyInput = z.object({
  strategy: z.enum(STRATEGIES).optional(), tryTimeout: z.string().optional(), timeout: z.string().optional(), maxRetries: z.number().int().optional(),
}).strict();

export interface RouteDeps {
  ctx: PluginContext<InvokeConfig>;
  registry: ServiceRegistry;
  call: CallHandler;
  listener: () => { address: string; port: number; engine: string } | undefined;
}

export function invokeRoutes(d: RouteDeps): void {
  const handler = (c: Context) => {
    const req = c.req.raw;
    const split = splitInvokePath(pathAndQuery(req.url));
    if (!split) throw new ApiError(400, "INVALID_INPUT", "missing service name");
    const ip = (c.env as { requestIP?: (r: Request) => { address: string } | null } | undefined)?.requestIP?.(req)?.address ?? "";
    return d.call(req, split.service, split.target, { ip, proto: req.url.startsWith("https:") ? "https" : "http" });
  };
  for (const method of METHODS) {
    for (const path of ["/v1/invoke/{service}", "/v1/invoke/{service}/{path{.*}}"]) {
      d.ctx.route(createRoute({
        method, path, tags, summary: "Call a service through this node: balanced over its healthy instances, with timeouts, retries and circuit breaking",
        request: { params: path.includes("path") ? z.object({ service: z.string(), path: z.string() }) : z.object({ service: z.string() }) },
        responses: { 200: { description: "The instance's answer, as is" }, 403: { description: "Denied by an intention" }, 404: { description: "Unknown service" }, 503: { description: "No healthy instance" }, 504: { description: "Timed out" } },
      }), handler, { leader: "local" }); // this node's proxy calls the instance
    }
  }
  configRoutes(d);
}

function configRoutes(d: RouteDeps): void {
  const cfg = d.ctx.config;
  const Name = z.object({ service: z.string().min(1).max(128) });
  d.ctx.route(createRoute({
    method: "get", path: "/v1/invoke-config", tags, summary: "The proxy listener, default policy and every watched service",
    responses: jsonResponse(z.object({ listener: z.object({ address: z.string(), port: z.number(), engine: z.enum(["sockets", "fetch"]) }).nullable(), defaults: Policy, services: z.array(ServiceStatus) })),
  }), (c) => c.json({
    listener: d.listener() ?? null,
    defaults: effectivePolicy({ ...cfg, services: {} }, ""),
    services: d.registry.list().map((e) => status(cfg, d.registry, e.name, e)),
  }));

  d.ctx.route(createRoute({
    method: "get", path: "/v1/invoke-config/{service}", tags, summary: "A service's effective policy, override and instances as the balancer sees them",
    request: { params: Name }, responses: jsonResponse(ServiceStatus),
  }), (c) => {
    const name = c.req.param("service")!;
    return c.json(status(cfg, d.registry, name, d.registry.get(name)));
  });

  d.ctx.route(createRoute({
    method: "put", path: "/v1/invoke-config/{service}", tags, summary: "Node-local run-time override of a service's policy (until restart or DELETE)",
    request: { params: Name, ...jsonBody(PolicyInput) }, responses: { ...jsonResponse(ServiceStatus), ...errorResponses },
  }), (c) => {
    const name = c.req.param("service")!;
    const body = c.req.valid("json" as never) as z.infer<typeof PolicyInput>;
    const parsed = servicePolicySchema.safeParse({ strategy: body.strategy, try_timeout: body.tryTimeout, timeout: body.timeout, max_retries: body.maxRetries });
    if (!parsed.success) throw new ApiError(400, "INVALID_INPUT", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    const merged = { ...d.registry.override(name), ...stripUndefined(parsed.data) };
    d.registry.setOverride(name, merged);
    return c.json(status(cfg, d.registry, name, d.registry.get(name)));
  }, { leader: "local" }); // node-local, not replicated

  d.ctx.route(createRoute({
    method: "delete", path: "/v1/invoke-config/{service}", tags, summary: "Drop a service's run-time override (back to the config file)",
    request: { params: Name }, responses: jsonResponse(ServiceStatus),
  }), (c) => {
    const name = c.req.param("service")!;
    d.registry.setOverride(name, undefined);
    return c.json(status(cfg, d.registry, name, d.registry.get(name)));
  }, { leader: "local" });
}

function stripUndefined(p: ServicePolicyInput): ServicePolicyInput {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as ServicePolicyInput;
}

function status(cfg: InvokeConfig, registry: ServiceRegistry, name: string, e: ServiceEntry | undefined) {
  const override = registry.override(name);
  const totals = e?.budget.totals();
  return {
    service: e?.name ?? name.toLowerCase(),
    watched: Boolean(e),
    exists: e?.exists ?? false,
    policy: e?.policy ?? effectivePolicy(cfg, name, override),
    override: override ?? null,
    instances: (e?.pool.endpoints ?? []).map((p) => ({
      id: p.spec.serviceId, node: p.spec.node, address: p.spec.address, port: p.spec.port, weight: p.weight,
      inflight: p.inflight, breaker: p.breaker.phase, ejections: p.breaker.ejections, ejectedUntil: p.breaker.phase === "closed" ? null : p.breaker.until,
    })),
    budget: e && totals ? { ...totals, allowance: e.budget.allowance(totals.requests), exhausted: e.budget.exhausted } : null,
  };
}
