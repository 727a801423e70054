// Agent → leader RPC. The cluster-auth middleware has already checked the
// HMAC signature for everything under /v1/cluster/.
import { createRoute, z } from "@hono/zod-openapi";
import type { Counter } from "prom-client";
import { heartbeatFast } from "../cluster/heartbeat-fast.ts";
import { proposeFast } from "../cluster/propose-fast.ts";
import { ApiError } from "../http/errors.ts";
import { HeartbeatRequest, JoinRequest } from "../cluster/protocol.ts";
import { Command } from "../state/commands.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody, jsonResponse } from "./schemas.ts";

/** `heartbeats`: counts the heartbeats this leader answered (corral_cluster_heartbeats_total). */
export function clusterRoutes(d: CoreApiDeps, o: { heartbeats?: Pick<Counter, "inc"> } = {}) {
  const membership = () => {
    if (!d.membership) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node does not accept agents (role agent)");
    return d.membership;
  };
  // Joins and heartbeats must reach the Raft leader: it alone marks nodes
  // down. `leader: "leader"`: a follower passes them on (core/http/raft-leader.ts).

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "post", path: "/v1/cluster/join", tags: ["cluster"], summary: "An agent joins (signed with the cluster secret)",
      request: jsonBody(JoinRequest),
      responses: { ...jsonResponse(z.object({ nodeId: z.string(), index: z.number(), heartbeatMs: z.number() })), ...errorResponses },
    }),
    leader: "leader",
    handler: async (c) => c.json(await membership().join(c.req.valid("json" as never) as JoinRequest)),
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "post", path: "/v1/cluster/heartbeat", tags: ["cluster"], summary: "An agent's heartbeat with its live sample",
      request: jsonBody(HeartbeatRequest),
      responses: { ...jsonResponse(z.object({ ok: z.boolean(), status: z.string() })), ...errorResponses },
    }),
    leader: "leader",
    handler: async (c) => {
      const out = await membership().heartbeat(c.req.valid("json" as never) as HeartbeatRequest);
      o.heartbeats?.inc();
      return c.json(out);
    },
    // The active leader answers most heartbeats before hono (core/cluster/heartbeat-fast.ts).
    fast: d.membership && d.replicator
      ? heartbeatFast({ membership: d.membership, isLeader: () => d.replicator!.status().isLeader, counter: o.heartbeats })
      : undefined,
  });

  d.routes.add({
    owner: "core",
    // The replicator reaches the Raft leader itself (leaderProposer, core/cluster/leader-client.ts).
    leader: "local",
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
    // Agents' status reports (and every other signed write) answered before hono (core/cluster/propose-fast.ts).
    fast: d.replicator ? proposeFast({ propose: d.propose }) : undefined,
  });
}
