// /v1/acl/bootstrap and /v1/acl/token(s): Consul's ACL token API. A secret
// is made here (128 random bits), hashed, and only the hash is proposed;
// the clear secret is in the one answer that created the token.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  ANONYMOUS_ACCESSOR, ANONYMOUS_SECRET_HASH, consulError, hashSecret, isUuid, newAccessorId,
  newSecret, requestToken, type TokenWithPolicies,
} from "../../../core/sdk/index.ts";
import { aclNotFound, mount, requireAcls, write, type AuthzContext } from "../common.ts";
import { consulJsonBody, TokenSchema, tokenView } from "../views.ts";

const tags = ["acl"];
const ok = (schema: z.ZodType) => ({ 200: { description: "OK", content: { "application/json": { schema } } } });
const aclRead = { resource: "acl", access: "read" } as const;
const aclWrite = { resource: "acl", access: "write" } as const;
const Accessor = z.object({ accessor: z.string().max(128) });

const TokenBody = z.object({
  AccessorID: z.string().max(128).optional(),
  SecretID: z.string().max(128).optional(),
  Description: z.string().max(1024).optional(),
  Policies: z.array(z.object({ ID: z.string().max(128).optional(), Name: z.string().max(128).optional() })).max(256).optional(),
  ServiceIdentities: z.array(z.object({ ServiceName: z.string().min(1).max(256), Datacenters: z.array(z.string().max(128)).max(64).optional() })).max(64).optional(),
  Local: z.boolean().optional(),
  Roles: z.array(z.unknown()).max(0, "roles are not supported by corral").optional(),
  NodeIdentities: z.array(z.unknown()).max(0, "node identities are not supported by corral").optional(),
  ExpirationTTL: z.undefined({ error: "token expiration is not supported by corral" }).optional(),
});
type TokenBody = z.infer<typeof TokenBody>;

/** Policy links by ID or Name → the policies, or a 400 naming the missing one. */
function linkedPolicies(ctx: AuthzContext, body: TokenBody) {
  return (body.Policies ?? []).map((l) => {
    const p = l.ID ? ctx.state.acl.policy(l.ID) : l.Name ? ctx.state.acl.policyByName(l.Name) : undefined;
    if (!p) throw consulError(400, `Bad request: cannot find policy ${JSON.stringify(l.ID ?? l.Name ?? "")}`);
    return p;
  });
}

function serviceIdentities(body: TokenBody): string[] {
  return [...new Set((body.ServiceIdentities ?? []).map((s) => s.ServiceName))];
}

/** The token a request presents (GET /v1/acl/token/self), looked up by hash. */
function presented(ctx: AuthzContext, c: Context): TokenWithPolicies | undefined {
  const secret = requestToken(c.req.url, (n) => c.req.header(n));
  return ctx.state.acl.tokenByHash(secret === "" ? ANONYMOUS_SECRET_HASH : hashSecret(secret));
}

function tokenOr403(ctx: AuthzContext, accessor: string): TokenWithPolicies {
  const t = ctx.state.acl.token(accessor);
  if (!t) throw aclNotFound();
  return t;
}

async function bootstrap(ctx: AuthzContext, c: Context) {
  requireAcls(ctx);
  const accessorId = newAccessorId();
  const secret = newSecret();
  const out = await ctx.propose({ type: "ACLBootstrap", v: 1, at: Date.now(), accessorId, secretHash: hashSecret(secret) });
  if (!out.result.ok) {
    if (out.result.code === "ACL_BOOTSTRAP_DONE") throw consulError(403, `Permission denied: ${out.result.message}`);
    throw consulError(400, out.result.message);
  }
  const t = ctx.state.acl.token(accessorId);
  ctx.log.info("ACL system bootstrapped", { accessor: accessorId });
  return c.json(t ? tokenView(t, secret) : { AccessorID: accessorId, SecretID: secret });
}

async function createToken(ctx: AuthzContext, c: Context) {
  requireAcls(ctx);
  const body = await consulJsonBody(c, TokenBody);
  if (body.AccessorID !== undefined && !isUuid(body.AccessorID)) throw consulError(400, "Bad request: AccessorID must be a UUID");
  if (body.SecretID !== undefined && !isUuid(body.SecretID)) throw consulError(400, "Bad request: SecretID must be a UUID");
  const policies = linkedPolicies(ctx, body);
  const accessorId = body.AccessorID?.toLowerCase() ?? newAccessorId();
  const secret = body.SecretID ?? newSecret();
  const token = { accessorId, description: body.Description ?? "", policyIds: policies.map((p) => p.id), serviceIdentities: serviceIdentities(body) };
  const out = await write(ctx, { type: "ACLTokenSet", v: 1, at: Date.now(), mode: "create", token, secretHash: hashSecret(secret) });
  const view = { ...token, secretHash: "", createTime: Date.now(), createIndex: out.index, modifyIndex: out.index, policies };
  return c.json(tokenView(ctx.state.acl.token(accessorId) ?? view, secret));
}

async function updateToken(ctx: AuthzContext, c: Context, accessor: string) {
  requireAcls(ctx);
  const body = await consulJsonBody(c, TokenBody);
  if (body.AccessorID && body.AccessorID.toLowerCase() !== accessor.toLowerCase()) throw consulError(400, "Bad request: AccessorID in the body differs from the path");
  const existing = tokenOr403(ctx, accessor);
  if (body.SecretID !== undefined && hashSecret(body.SecretID) !== existing.secretHash) throw consulError(400, "Bad request: a token's SecretID cannot be changed");
  const policies = linkedPolicies(ctx, body);
  const token = { accessorId: existing.accessorId, description: body.Description ?? existing.description, policyIds: policies.map((p) => p.id), serviceIdentities: serviceIdentities(body) };
  const out = await write(ctx, { type: "ACLTokenSet", v: 1, at: Date.now(), mode: "update", token });
  return c.json(tokenView(ctx.state.acl.token(existing.accessorId) ?? { ...existing, ...token, policies, modifyIndex: out.index }));
}

export function tokenRoutes(ctx: AuthzContext): void {
  mount(ctx, createRoute({
    method: "put", path: "/v1/acl/bootstrap", tags,
    summary: "Create the first management token; works once (then 403 \"Permission denied: ACL bootstrap no longer allowed\")",
    responses: ok(TokenSchema),
  }), "none", (c) => bootstrap(ctx, c));

  mount(ctx, createRoute({ method: "put", path: "/v1/acl/token", tags, summary: "Create a token; its SecretID is shown in this answer only", responses: ok(TokenSchema) }),
    aclWrite, (c) => createToken(ctx, c));

  // Before /v1/acl/token/{accessor}: "self" is not an accessor.
  mount(ctx, createRoute({ method: "get", path: "/v1/acl/token/self", tags, summary: "The token this request presents (secret masked)", responses: ok(TokenSchema) }),
    "authenticated", (c) => {
      requireAcls(ctx);
      const t = presented(ctx, c);
      if (!t) throw aclNotFound();
      return c.json(tokenView(t));
    }, true);

  mount(ctx, createRoute({ method: "get", path: "/v1/acl/token/{accessor}", tags, summary: "One token by AccessorID (secret masked)", request: { params: Accessor }, responses: ok(TokenSchema) }),
    aclRead, (c) => {
      requireAcls(ctx);
      return c.json(tokenView(tokenOr403(ctx, c.req.param("accessor") ?? "")));
    }, true);

  mount(ctx, createRoute({ method: "put", path: "/v1/acl/token/{accessor}", tags, summary: "Update a token's description, policies and service identities", request: { params: Accessor }, responses: ok(TokenSchema) }),
    aclWrite, (c) => updateToken(ctx, c, c.req.param("accessor") ?? ""));

  mount(ctx, createRoute({ method: "delete", path: "/v1/acl/token/{accessor}", tags, summary: "Delete a token (it stops working at once on leaders, within token_ttl on agents)", request: { params: Accessor }, responses: ok(z.boolean()) }),
    aclWrite, async (c) => {
      requireAcls(ctx);
      const accessor = c.req.param("accessor") ?? "";
      if (accessor === ANONYMOUS_ACCESSOR) throw consulError(403, "Permission denied: cannot delete the anonymous token");
      tokenOr403(ctx, accessor);
      await write(ctx, { type: "ACLTokenDelete", v: 1, at: Date.now(), accessorId: accessor });
      return c.json(true);
    });

  mount(ctx, createRoute({
    method: "get", path: "/v1/acl/tokens", tags, summary: "Every token (secrets masked); ?policy=ID for the holders of one policy",
    request: { query: z.object({ policy: z.string().max(128).optional() }).passthrough() }, responses: ok(z.array(TokenSchema)),
  }), aclRead, (c) => {
    requireAcls(ctx);
    return c.json(ctx.state.acl.tokens(new URL(c.req.url).searchParams.get("policy") ?? undefined).map((t) => tokenView(t)));
  }, true);
}
