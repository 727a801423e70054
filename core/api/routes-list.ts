// GET /v1/operator/routes: every mounted route — hidden ones (405 answers)
// included — with its owner and the permission it needs when ACLs are on.
// `permission: null` marks a route nobody declared a permission for (it then
// needs operator:write); test/acl/route-permissions.test.ts fails on those.
// `leader: null` marks a route that declared no leader routing; test/cluster/leader-routing.test.ts
// fails on a write route without one.
import { createRoute, z } from "@hono/zod-openapi";
import { describePermission, permissionFor } from "../acl/route-permissions.ts";
import type { CoreApiDeps } from "./deps.ts";
import { declaredRouting } from "../http/leader-routing.ts";
import { jsonResponse } from "./schemas.ts";

const RouteView = z.object({
  method: z.string(), path: z.string(), owner: z.string(), hidden: z.boolean(), permission: z.string().nullable(),
  /** How it reaches the leader (core/http/leader-routing.ts); null: not declared. */
  leader: z.enum(["forward", "read", "local", "leader"]).nullable(),
});

export function routeListRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/operator/routes", tags: ["operator"],
      summary: "Every mounted route (hidden 405 routes too) with its owner and the ACL permission it needs",
      responses: jsonResponse(z.array(RouteView)),
    }),
    handler: (c) => {
      const all = d.routes.list();
      return c.json(all.map((e) => ({
        method: e.route.method.toUpperCase(), path: e.route.path, owner: e.owner, hidden: Boolean(e.route.hide),
        permission: describePermission(permissionFor(e, all)) ?? null,
        leader: declaredRouting(e) ?? null,
      })));
    },
  });
}
