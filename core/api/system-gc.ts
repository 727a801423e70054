// PUT /v1/system/gc (Nomad's): collect every terminal job, evaluation,
// allocation and deployment, and every down node with nothing live on it,
// now, whatever the thresholds (core/cluster/gc).
// Answered by the Raft leader (it proposes the entries); operator:write.
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../http/errors.ts";
import type { GcLoop } from "../cluster/gc/loop.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse } from "./schemas.ts";

const Collected = z.object({
  jobs: z.number(), evals: z.number(), allocs: z.number(), deployments: z.number(), nodes: z.number(),
  tombstones: z.number().openapi({ description: "deleted KV keys' tombstones reaped" }),
  catalogTombstones: z.number().openapi({ description: "deleted catalog nodes', services' and node checks' tombstones reaped" }),
  variableTombstones: z.number().openapi({ description: "deleted variables' tombstones reaped" }),
});

export function systemGcRoutes(d: CoreApiDeps, gc: GcLoop | undefined): void {
  d.routes.add({
    owner: "core",
    leader: "leader",
    route: createRoute({
      method: "put", path: "/v1/system/gc", tags: ["operator"],
      summary: "Garbage-collect now: every dead job, finished evaluation, terminal allocation and finished deployment, and every down node with no live allocation, whatever the thresholds; answers what went",
      responses: { ...jsonResponse(Collected), ...errorResponses },
    }),
    handler: async (c) => {
      if (!gc) throw new ApiError(503, "NOT_A_LEADER_ROLE", "garbage collection runs on leader-role nodes");
      return c.json(await gc.collectNow(true));
    },
  });
}
