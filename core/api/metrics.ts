// Prometheus exposition of this node's registry: GET /metrics, and Consul's
// GET /v1/agent/metrics (?format=prometheus for the text format, JSON
// otherwise). Per node, never forwarded: each node is scraped on its own.
import { createRoute, z } from "@hono/zod-openapi";
import type { Registry } from "prom-client";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses } from "./schemas.ts";

const text = (description: string) => ({ 200: { description, content: { "text/plain": { schema: z.string() } } } }) as const;

export function metricsRoutes(d: CoreApiDeps, registry: Registry) {
  const exposition = async () =>
    new Response(await registry.metrics(), { headers: { "content-type": registry.contentType, "cache-control": "no-store" } });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/metrics", tags: ["monitoring"], summary: "Prometheus metrics of this node (text exposition format 0.0.4)",
      responses: text("Metrics in the Prometheus text format"),
    }),
    handler: () => exposition(),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/agent/metrics", tags: ["monitoring"],
      summary: "This node's metrics (Consul-compatible path): Prometheus text with ?format=prometheus, else prom-client's JSON",
      request: { query: z.object({ format: z.enum(["prometheus"]).optional() }) },
      responses: {
        ...text("Metrics in the Prometheus text format (?format=prometheus)"),
        ...errorResponses,
      },
    }),
    handler: async (c) => {
      if (c.req.query("format") === "prometheus") return exposition();
      return c.json(await registry.getMetricsAsJSON());
    },
  });
}
