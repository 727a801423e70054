// /v1/acl/policy and /v1/acl/policies: Consul's ACL policy API. Rules are
// validated here (core/acl/rules.ts) before they are proposed.
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type AclPolicyRow, consulError, MANAGEMENT_POLICY_ID, parseRules, RulesError,
} from "../../../core/sdk/index.ts";
import { aclNotFound, mount, requireAcls, write, type AuthzContext } from "../common.ts";
import { consulJsonBody, PolicySchema, policyView } from "../views.ts";

const tags = ["acl"];
const ok = (schema: z.ZodType) => ({ 200: { description: "OK", content: { "application/json": { schema } } } });
const aclRead = { resource: "acl", access: "read" } as const;
const aclWrite = { resource: "acl", access: "write" } as const;
const Id = z.object({ id: z.string().max(128) });

/** Consul's policy names. */
const NAME_RE = /^[A-Za-z0-9\-_]{1,128}$/;

const PolicyBody = z.object({
  ID: z.string().max(128).optional(),
  Name: z.string().regex(NAME_RE, "a policy name is 1-128 letters, digits, - and _").optional(),
  Description: z.string().max(1024).optional(),
  Rules: z.string().max(64 * 1024).optional(),
  Datacenters: z.array(z.string().max(128)).max(64).optional(),
});

function checkRules(rules: string): void {
  try {
    parseRules(rules);
  } catch (err) {
    if (err instanceof RulesError) throw consulError(400, `Bad request: invalid rules: ${err.message}`.slice(0, 400));
    throw err;
  }
}

function policyOr403(ctx: AuthzContext, id: string): AclPolicyRow {
  const p = ctx.state.acl.policy(id);
  if (!p) throw aclNotFound();
  return p;
}

async function createPolicy(ctx: AuthzContext, c: Context) {
  requireAcls(ctx);
  const body = await consulJsonBody(c, PolicyBody);
  if (!body.Name) throw consulError(400, "Bad request: a policy needs a Name");
  checkRules(body.Rules ?? "");
  const policy = { id: randomUUID(), name: body.Name, description: body.Description ?? "", rules: body.Rules ?? "" };
  const out = await write(ctx, { type: "ACLPolicySet", v: 1, at: Date.now(), mode: "create", policy });
  return c.json(policyView(ctx.state.acl.policy(policy.id) ?? { ...policy, createIndex: out.index, modifyIndex: out.index }));
}

async function updatePolicy(ctx: AuthzContext, c: Context, id: string) {
  requireAcls(ctx);
  const body = await consulJsonBody(c, PolicyBody);
  if (body.ID && body.ID !== id) throw consulError(400, "Bad request: ID in the body differs from the path");
  const existing = policyOr403(ctx, id);
  if (id === MANAGEMENT_POLICY_ID) throw consulError(403, "Permission denied: the global-management policy cannot be changed");
  const rules = body.Rules ?? existing.rules;
  checkRules(rules);
  const policy = { id, name: body.Name ?? existing.name, description: body.Description ?? existing.description, rules };
  const out = await write(ctx, { type: "ACLPolicySet", v: 1, at: Date.now(), mode: "update", policy });
  return c.json(policyView(ctx.state.acl.policy(id) ?? { ...existing, ...policy, modifyIndex: out.index }));
}

export function policyRoutes(ctx: AuthzContext): void {
  mount(ctx, createRoute({ method: "put", path: "/v1/acl/policy", tags, summary: "Create a policy: Name, Description, Rules (HCL or JSON)", responses: ok(PolicySchema) }),
    aclWrite, (c) => createPolicy(ctx, c));

  mount(ctx, createRoute({ method: "get", path: "/v1/acl/policy/name/{name}", tags, summary: "One policy by name", request: { params: z.object({ name: z.string().max(128) }) }, responses: ok(PolicySchema) }),
    aclRead, (c) => {
      requireAcls(ctx);
      const p = ctx.state.acl.policyByName(c.req.param("name") ?? "");
      if (!p) throw aclNotFound();
      return c.json(policyView(p));
    }, true);

  mount(ctx, createRoute({ method: "get", path: "/v1/acl/policy/{id}", tags, summary: "One policy by ID", request: { params: Id }, responses: ok(PolicySchema) }),
    aclRead, (c) => {
      requireAcls(ctx);
      return c.json(policyView(policyOr403(ctx, c.req.param("id") ?? "")));
    }, true);

  mount(ctx, createRoute({ method: "put", path: "/v1/acl/policy/{id}", tags, summary: "Update a policy", request: { params: Id }, responses: ok(PolicySchema) }),
    aclWrite, (c) => updatePolicy(ctx, c, c.req.param("id") ?? ""));

  mount(ctx, createRoute({ method: "delete", path: "/v1/acl/policy/{id}", tags, summary: "Delete a policy (tokens holding it lose it)", request: { params: Id }, responses: ok(z.boolean()) }),
    aclWrite, async (c) => {
      requireAcls(ctx);
      const id = c.req.param("id") ?? "";
      policyOr403(ctx, id);
      await write(ctx, { type: "ACLPolicyDelete", v: 1, at: Date.now(), id });
      return c.json(true);
    });

  mount(ctx, createRoute({ method: "get", path: "/v1/acl/policies", tags, summary: "Every policy (without its rules)", responses: ok(z.array(PolicySchema)) }),
    aclRead, (c) => {
      requireAcls(ctx);
      return c.json(ctx.state.acl.policies().map((p) => policyView(p, false)));
    }, true);
}
