// The request-metrics middleware on the real route table, through app.request()
// (no socket): route patterns as labels, errors and refusals counted.
import { describe, expect, test } from "bun:test";
import { createRoute, z } from "@hono/zod-openapi";
import { Registry } from "prom-client";
import { createRouteTable } from "../../core/http/app.ts";
import { RpcVerifier } from "../../core/http/middleware/cluster-auth.ts";
import { httpMetrics, routePattern } from "../../core/http/middleware/http-metrics.ts";
import { ApiError } from "../../core/http/errors.ts";
import { silentLogger } from "../../core/log.ts";

function app() {
  const registry = new Registry();
  let t = 0;
  const routes = createRouteTable({
    log: silentLogger, version: "t", maxBodyBytes: 1024, verifier: new RpcVerifier({ secret: "0123456789abcdef0123", isOurs: () => false }), appliedIndex: () => 1,
    outer: [httpMetrics({ registry, now: () => (t += 250) })],
  });
  const get = (path: string, handler: () => Response) =>
    routes.add({ owner: "core", route: createRoute({ method: "get", path, responses: { 200: { description: "ok" } } }), handler });
  get("/v1/node/{id}", () => Response.json({ ok: true }));
  get("/v1/kv/{key{.*}}", () => {
    throw new ApiError(404, "KEY_NOT_FOUND", "no");
  });
  routes.add({
    owner: "core",
    route: createRoute({ method: "post", path: "/v1/cluster/heartbeat", request: { body: { content: { "application/json": { schema: z.object({}) } } } }, responses: { 200: { description: "ok" } } }),
    handler: () => Response.json({}),
  });
  return { routes, registry };
}

async function samples(registry: Registry, name: string) {
  return (await registry.getSingleMetric(name)!.get()).values;
}

describe("httpMetrics", () => {
  test("route patterns", () => {
    expect(routePattern("/v1/node/:id")).toBe("/v1/node/{id}");
    expect(routePattern("/v1/kv/:key{.*}")).toBe("/v1/kv/{key}");
    expect(routePattern("/v1/a/:x/b/:y")).toBe("/v1/a/{x}/b/{y}");
  });

  test("one series per route pattern and status, whatever ids clients send; errors, refusals and 404s counted", async () => {
    const { routes, registry } = app();
    for (const id of ["a", "b", "c"]) expect((await routes.fetch(new Request(`http://x/v1/node/${id}`))).status).toBe(200);
    expect((await routes.fetch(new Request("http://x/v1/kv/deep/key/path"))).status).toBe(404);
    expect((await routes.fetch(new Request("http://x/random/path/1"))).status).toBe(404);
    expect((await routes.fetch(new Request("http://x/random/path/2"))).status).toBe(404);
    // Refused by cluster-auth (no signature) before any handler ran.
    expect((await routes.fetch(new Request("http://x/v1/cluster/heartbeat", { method: "POST", body: "{}" }))).status).toBe(401);

    const counts = (await samples(registry, "corral_http_requests_total")).map((v) => [v.labels.method, v.labels.route, v.labels.status, v.value]);
    expect(counts).toEqual([
      ["GET", "/v1/node/{id}", "200", 3],
      ["GET", "/v1/kv/{key}", "404", 1],
      ["GET", "unmatched", "404", 2],
      ["POST", "/v1/cluster/heartbeat", "401", 1],
    ]);
    const durations = (await samples(registry, "corral_http_request_duration_seconds")) as { metricName?: string; labels: Record<string, unknown>; value: number }[];
    const nodeCount = durations.find((v) => v.metricName === "corral_http_request_duration_seconds_count" && v.labels.route === "/v1/node/{id}");
    const nodeSum = durations.find((v) => v.metricName === "corral_http_request_duration_seconds_sum" && v.labels.route === "/v1/node/{id}");
    expect(nodeCount?.value).toBe(3);
    expect(nodeSum?.value).toBeCloseTo(0.75); // 250 ms each on the injected clock
    expect(durations.every((v) => !("status" in v.labels))).toBe(true);
  });
});
