// Liveness and identity: /v1/healthz, /v1/status/leader, /v1/status/peers, /v1/agent/self.
import { createRoute, z } from "@hono/zod-openapi";
import type { CoreApiDeps } from "./deps.ts";
import { jsonResponse } from "./schemas.ts";
import { consulMember } from "../http/consul.ts";

export function statusRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/healthz", tags: ["status"], summary: "Liveness: 200 while the node serves, 503 once its state database failed",
      responses: {
        ...jsonResponse(z.object({ ok: z.boolean(), role: z.string(), version: z.string() })),
        503: { description: "The node stopped serving its role", content: { "application/json": { schema: z.object({ error: z.string(), code: z.string() }) } } },
      },
    }),
    handler: (c) => {
      const failure = d.failure?.();
      if (failure) return c.json({ error: failure, code: "NODE_FAILED" }, 503);
      return c.json({ ok: true, role: d.host.role, version: d.version });
    },
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/openapi.json", tags: ["status"], summary: "This OpenAPI document: every mounted route, plugins' included",
      responses: jsonResponse(z.object({}).passthrough()),
    }),
    handler: (c) => c.json(d.routes.openApiDocument() as Record<string, unknown>),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/status/leader", tags: ["status"],
      summary: "Address of the active leader (Consul-compatible: a JSON string, empty when none)",
      responses: jsonResponse(z.string()),
    }),
    handler: (c) => c.json(d.leaderAddress() ?? ""),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/status/peers", tags: ["status"],
      summary: "Addresses of the leader-role nodes (Consul-compatible)",
      responses: jsonResponse(z.array(z.string())),
    }),
    handler: (c) => c.json(d.peers()),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/agent/self", tags: ["status"], summary: "This node's configuration and status",
      responses: jsonResponse(z.object({}).passthrough()),
    }),
    handler: (c) => {
      const rs = d.replicator?.status();
      return c.json({
        // Consul-shaped keys that clients (Prometheus, node-consul) read.
        // Every top-level value must be an object: the Go client decodes a map of maps (§4.4).
        Config: {
          Datacenter: d.host.datacenter, PrimaryDatacenter: d.host.datacenter, NodeName: d.host.nodeName, NodeID: d.host.nodeId,
          Server: d.host.role !== "agent", Revision: "", Version: d.version,
          // Session clients size their TTLs by it (docs/coordination.md).
          SessionTTLMin: formatSeconds(d.sessionTtlMinMs ?? 10_000),
        },
        DebugConfig: { SessionTTLMin: formatSeconds(d.sessionTtlMinMs ?? 10_000), SessionTTLMax: "24h0m0s", SessionTTLMultiplier: 2 },
        Member: consulMember({ name: d.host.nodeName, addr: d.advertise, port: d.port, datacenter: d.host.datacenter, role: d.host.role, id: d.host.nodeId, alive: true }),
        Meta: {},
        corral: {
          role: d.host.role,
          nodeId: d.host.nodeId,
          nodeName: d.host.nodeName,
          datacenter: d.host.datacenter,
          version: d.version,
          runtime: d.runtime,
          address: `${d.advertise}:${d.port}`,
          dataDir: d.host.dataDir,
          startedAt: d.startedAt,
          replication: rs ?? null,
          joined: d.agentJoined?.() ?? null,
          plugins: d.plugins.list().map((p) => ({ name: p.name, state: p.state })),
          // What enabled plugins hold right now (timers, sockets, routes...): leak checks.
          pluginResources: d.plugins.stats(),
          // Hidden routes (405 answers for wrong methods) are not in the OpenAPI document.
          routes: d.routes.list().filter((e) => !e.route.hide).length,
        },
      });
    },
  });
}

/** A Go duration string of whole or fractional seconds ("10s", "0.5s"). */
function formatSeconds(ms: number): string {
  return `${ms / 1000}s`;
}
