// Agent → leader RPC. The cluster-auth middleware has already checked the
// HMAC signature for everything under /v1/cluster/.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { FORWARDED_HEADER, proxyRequest } from "../http/proxy.ts";
import { ApiError } from "../http/errors.ts";
import { HeartbeatRequest, JoinRequest } from "../cluster/protocol.ts";
import { Command } from "../state/commands.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody, jsonResponse } from "./schemas.ts";

export function clusterRoutes(d: CoreApiDeps) {
  const membership = () => {
    if (!d.membership) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node does not accept agents (role agent)");
    return d.membership;
  };
  // Heartbeats must reach the leader: it alone marks nodes down. A follower
  // passes joins and heartbeats on, signed anew by itself: the agent's
  // signature names this follower as its receiver, so the leader would
  // refuse it (core/http/rpc-receiver.ts); this node has just verified it.
  const viaLeader = async (c: Context, local: () => Promise<unknown>) => {
    const st = d.replicator?.status();
    if (st && !st.isLeader && !c.req.header(FORWARDED_HEADER)) {
      if (!st.leader) throw new ApiError(503, "NO_LEADER", "no leader elected yet");
      // The body was read (signature check, validation): pass hono's cached copy.
      return proxyRequest(`${d.peerHttp?.scheme ?? "http"}://${st.leader}`, c.req.raw, await c.req.arrayBuffer(), d.key, d.peerHttp?.fetch);
    }
    return c.json(await local());
  };

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "post", path: "/v1/cluster/join", tags: ["cluster"], summary: "An agent joins (signed with the cluster secret)",
      request: jsonBody(JoinRequest),
      responses: { ...jsonResponse(z.object({ nodeId: z.string(), index: z.number(), heartbeatMs: z.number() })), ...errorResponses },
    }),
    handler: (c) => viaLeader(c, () => membership().join(c.req.valid("json" as never) as JoinRequest)),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "post", path: "/v1/cluster/heartbeat", tags: ["cluster"], summary: "An agent's heartbeat with its live sample",
      request: jsonBody(HeartbeatRequest),
      responses: { ...jsonResponse(z.object({ ok: z.boolean(), status: z.string() })), ...errorResponses },
    }),
    handler: (c) => viaLeader(c, () => membership().heartbeat(c.req.valid("json" as never) as HeartbeatRequest)),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "post", path: "/v1/cluster/propose", tags: ["cluster"],
      summary: "A replicated write from an agent or a follower (signed with the cluster secret)",
      request: jsonBody(Command),
      responses: { ...jsonResponse(z.object({ index: z.number(), result: z.object({}).passthrough() })), ...errorResponses },
    }),
    handler: async (c) => {
      if (!d.replicator) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node does not accept writes (role agent)");
      return c.json(await d.propose(c.req.valid("json" as never) as Command));
    },
  });
}
