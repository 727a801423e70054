// POST /v1/cluster/acl/resolve: an agent asks a leader-role node what a
// token is (signed with the cluster secret, like all /v1/cluster/ RPC). The
// agent sends the secret's SHA-256, never the secret; the answer carries the
// token's accessor, service identities and policy rules, never its hash.
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../http/errors.ts";
import { stateTokenSource } from "../acl/resolve.ts";
import { FactQuery, readFact } from "../acl/facts.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonBody, jsonResponse } from "./schemas.ts";

const Grant = z.object({
  accessorId: z.string(), description: z.string(), serviceIdentities: z.array(z.string()),
  policies: z.array(z.object({ id: z.string(), modifyIndex: z.number(), rules: z.string() })),
});

export function aclRpcRoutes(d: CoreApiDeps) {
  const source = stateTokenSource(() => d.state.acl);
  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "post", path: "/v1/cluster/acl/resolve", tags: ["cluster"],
      summary: "A token's grant for an agent's ACL cache, by the SHA-256 of its secret (signed with the cluster secret)",
      request: jsonBody(z.object({ secretHash: z.string().regex(/^[0-9a-f]{64}$/) }).strict()),
      responses: { ...jsonResponse(z.object({ token: Grant.nullable() })), ...errorResponses },
    }),
    handler: (c) => {
      if (!d.replicator) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node holds no tokens (role agent)");
      const { secretHash } = c.req.valid("json" as never) as { secretHash: string };
      return c.json({ token: source.lookup(secretHash) as z.infer<typeof Grant> | null });
    },
  });
}

/** POST /v1/cluster/acl/intentions: the intentions, for an agent's call checks (core/acl/calls.ts). */
export function intentionRpcRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "post", path: "/v1/cluster/acl/intentions", tags: ["cluster"],
      summary: "Every intention (source, destination, action), for an agent's call checks (signed with the cluster secret)",
      responses: { ...jsonResponse(z.object({ intentions: z.array(z.object({ source: z.string(), destination: z.string(), action: z.enum(["allow", "deny"]) })) })), ...errorResponses },
    }),
    handler: (c) => {
      if (!d.replicator) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node holds no intentions (role agent)");
      return c.json({ intentions: d.state.acl.intentions().map(({ source, destination, action }) => ({ source, destination, action })) });
    },
  });
}

/** POST /v1/cluster/acl/facts: what an agent's ACL decision needs from the state, answered as this node would use it itself. */
export function aclFactRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "post", path: "/v1/cluster/acl/facts", tags: ["cluster"],
      summary: "A fact for an agent's ACL decision: a node's name, an allocation's or evaluation's job, a catalog node's owners (signed with the cluster secret)",
      request: jsonBody(FactQuery),
      responses: { ...jsonResponse(z.object({ value: z.unknown() })), ...errorResponses },
    }),
    handler: (c) => {
      if (!d.replicator) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node holds no state (role agent)");
      return c.json({ value: readFact(d.state, c.req.valid("json" as never) as FactQuery) });
    },
  });
}
