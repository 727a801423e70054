// Consul's shapes for tokens, policies and intentions (ACL API, Connect
// intentions API). A token's secret appears in clear only in the answer
// that created it; every other answer shows MASKED_SECRET.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type AclPolicyRow, consulError, type IntentionRow, MASKED_SECRET, precedence, requestBody,
  type TokenWithPolicies,
} from "../../core/sdk/index.ts";

export const TokenSchema = z.object({
  AccessorID: z.string(), SecretID: z.string(), Description: z.string(),
  Policies: z.array(z.object({ ID: z.string(), Name: z.string() })),
  ServiceIdentities: z.array(z.object({ ServiceName: z.string() })),
  Local: z.boolean(), CreateTime: z.string(), Hash: z.string(), CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("ACLToken");

export const PolicySchema = z.object({
  ID: z.string(), Name: z.string(), Description: z.string(), Rules: z.string().optional(), Datacenters: z.array(z.string()),
  Hash: z.string(), CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("ACLPolicy");

export const IntentionSchema = z.object({
  ID: z.string(), Description: z.string(), SourceNS: z.string(), SourceName: z.string(), DestinationNS: z.string(), DestinationName: z.string(),
  SourceType: z.string(), Action: z.enum(["allow", "deny"]), Meta: z.record(z.string(), z.string()), Precedence: z.number(),
  CreatedAt: z.string(), UpdatedAt: z.string(), CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("Intention");

/** A token as answers show it; `secret` only in the answer that created it. */
export function tokenView(t: TokenWithPolicies, secret?: string) {
  return {
    AccessorID: t.accessorId, SecretID: secret ?? MASKED_SECRET, Description: t.description,
    Policies: t.policies.map((p) => ({ ID: p.id, Name: p.name })),
    ServiceIdentities: t.serviceIdentities.map((s) => ({ ServiceName: s })),
    Local: false, CreateTime: new Date(t.createTime).toISOString(), Hash: "", CreateIndex: t.createIndex, ModifyIndex: t.modifyIndex,
  };
}

export function policyView(p: AclPolicyRow, withRules = true) {
  return {
    ID: p.id, Name: p.name, Description: p.description, ...(withRules ? { Rules: p.rules } : {}), Datacenters: [],
    Hash: "", CreateIndex: p.createIndex, ModifyIndex: p.modifyIndex,
  };
}

export function intentionView(i: IntentionRow) {
  return {
    ID: i.id, Description: i.description, SourceNS: "default", SourceName: i.source, DestinationNS: "default", DestinationName: i.destination,
    SourceType: "consul", Action: i.action, Meta: i.meta, Precedence: precedence(i),
    CreatedAt: new Date(i.createdAt).toISOString(), UpdatedAt: new Date(i.updatedAt).toISOString(), CreateIndex: i.createIndex, ModifyIndex: i.modifyIndex,
  };
}

/**
 * A JSON request body checked by `schema`; Consul-style text 400s. An empty body is `{}`.
 * The body is the one the route table parsed before the ACL decision (core/http/json-body.ts: duplicate keys refused).
 */
export async function consulJsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const body = await requestBody(c);
  if (body.kind === "invalid") throw consulError(400, `Request decode failed: ${body.message}`.slice(0, 200));
  const raw: unknown = body.kind === "json" ? body.value : {};
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw consulError(400, `Bad request: ${issue?.path?.length ? issue.path.join(".") + ": " : ""}${issue?.message ?? "invalid body"}`.slice(0, 300));
  }
  return r.data;
}

/** A required query parameter (Consul: "required query parameter 'x' not set"). */
export function queryParam(c: Context, name: string): string {
  const v = new URL(c.req.url).searchParams.get(name);
  if (v === null || v === "") throw consulError(400, `required query parameter '${name}' not set`);
  return v;
}
