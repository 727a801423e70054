// /v1/connect/intentions: Consul's intentions API (names only; namespaces
// are "default"). Managing an intention needs intention write on its
// destination (Consul: `service "<dst>" { intentions = "write" }`); reading
// one needs intention read (service read grants it).
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  arrayBy, consulError, decidingIntention, type IntentionRow, type PermissionSpec, reads,
  requestBody, validIntentionName,
} from "../../../core/sdk/index.ts";
import { intentionDefaultAllow, mount, write, type AuthzContext } from "../common.ts";
import { consulJsonBody, IntentionSchema, intentionView, queryParam } from "../views.ts";

const tags = ["intentions"];
const ok = (schema: z.ZodType) => ({ 200: { description: "OK", content: { "application/json": { schema } } } });
const PairQuery = z.object({ source: z.string().max(256).optional(), destination: z.string().max(256).optional() }).passthrough();

const Fields = {
  Action: z.enum(["allow", "deny"]),
  Description: z.string().max(1024).optional(),
  Meta: z.record(z.string().max(128), z.string().max(512)).refine((m) => Object.keys(m).length <= 64, "at most 64 meta pairs").optional(),
  SourceType: z.literal("consul").optional(),
  SourceNS: z.string().max(64).optional(),
  DestinationNS: z.string().max(64).optional(),
};
const CreateBody = z.object({ SourceName: z.string().max(256), DestinationName: z.string().max(256), ...Fields });
const ExactBody = z.object({ SourceName: z.string().max(256).optional(), DestinationName: z.string().max(256).optional(), ...Fields });

/** "" when the body is not JSON: then intention_prefix "" (write) is needed, and the handler answers 400 anyway. */
async function destinationInBody(c: Context): Promise<string> {
  const body = await requestBody(c); // the value the handler reads too (consulJsonBody)
  const b = body.kind === "json" ? (body.value as { DestinationName?: unknown } | null) : null;
  return typeof b?.DestinationName === "string" ? b.DestinationName : "";
}

const dstQuery = (c: Context) => new URL(c.req.url).searchParams.get("destination") ?? "";

function checkNames(source: string, destination: string): void {
  const problem = validIntentionName(source) ?? validIntentionName(destination);
  if (problem) throw consulError(400, `Bad request: ${problem}`);
}

function checkNamespaces(b: { SourceNS?: string; DestinationNS?: string }): void {
  for (const ns of [b.SourceNS, b.DestinationNS]) {
    if (ns && ns !== "default") throw consulError(400, "Bad request: namespaces are not supported by corral (only \"default\")");
  }
}

const byDestination = (access: "read" | "write", segment: PermissionSpec["segment"]): PermissionSpec => ({ resource: "intention", access, segment });

export function intentionRoutes(ctx: AuthzContext): void {
  listAndCreateRoutes(ctx);
  pairRoutes(ctx);
  idRoutes(ctx);
}

/** GET and POST /v1/connect/intentions. */
function listAndCreateRoutes(ctx: AuthzContext): void {
  mount(ctx, createRoute({ method: "get", path: "/v1/connect/intentions", tags, summary: "Every intention the token may read", responses: ok(z.array(IntentionSchema)) }),
    { resource: "intention", access: "read", filter: reads(["intention"], arrayBy("intention", "DestinationName")) }, (c) => {
      if (new URL(c.req.url).searchParams.get("filter")) throw consulError(400, "filter expressions are not supported by corral");
      return c.json(ctx.state.acl.intentions().map(intentionView));
    }, true);

  mount(ctx, createRoute({ method: "post", path: "/v1/connect/intentions", tags, summary: "Create an intention; answers {\"ID\"}", responses: ok(z.object({ ID: z.string() })) }),
    byDestination("write", destinationInBody), async (c) => {
      const b = await consulJsonBody(c, CreateBody);
      checkNames(b.SourceName, b.DestinationName);
      checkNamespaces(b);
      const intention = { id: randomUUID(), source: b.SourceName, destination: b.DestinationName, action: b.Action, description: b.Description ?? "", meta: b.Meta ?? {} };
      const out = await write(ctx, { type: "IntentionSet", v: 1, at: Date.now(), mode: "create", intention });
      return c.json({ ID: (out.result as { value?: { id?: string } }).value?.id ?? intention.id });
    });

}

/** /v1/connect/intentions/exact and /check: by source and destination name. */
function pairRoutes(ctx: AuthzContext): void {
  mount(ctx, createRoute({ method: "get", path: "/v1/connect/intentions/exact", tags, summary: "The intention for exactly ?source=&destination=", request: { query: PairQuery }, responses: ok(IntentionSchema) }),
    byDestination("read", dstQuery), (c) => {
      const i = ctx.state.acl.intentionExact(queryParam(c, "source"), queryParam(c, "destination"));
      if (!i) throw consulError(404, "Intention not found");
      return c.json(intentionView(i));
    }, true);

  mount(ctx, createRoute({ method: "put", path: "/v1/connect/intentions/exact", tags, summary: "Create or replace the intention for ?source=&destination=", request: { query: PairQuery }, responses: ok(z.boolean()) }),
    byDestination("write", dstQuery), async (c) => {
      const source = queryParam(c, "source");
      const destination = queryParam(c, "destination");
      checkNames(source, destination);
      const b = await consulJsonBody(c, ExactBody);
      checkNamespaces(b);
      if ((b.SourceName && b.SourceName !== source) || (b.DestinationName && b.DestinationName !== destination)) {
        throw consulError(400, "Bad request: SourceName and DestinationName must match the query");
      }
      const intention = { id: randomUUID(), source, destination, action: b.Action, description: b.Description ?? "", meta: b.Meta ?? {} };
      await write(ctx, { type: "IntentionSet", v: 1, at: Date.now(), mode: "upsert", intention });
      return c.json(true);
    });

  mount(ctx, createRoute({ method: "delete", path: "/v1/connect/intentions/exact", tags, summary: "Delete the intention for ?source=&destination=", request: { query: PairQuery }, responses: ok(z.boolean()) }),
    byDestination("write", dstQuery), async (c) => {
      const i = ctx.state.acl.intentionExact(queryParam(c, "source"), queryParam(c, "destination"));
      if (i) await write(ctx, { type: "IntentionDelete", v: 1, at: Date.now(), id: i.id });
      return c.json(true);
    });

  mount(ctx, createRoute({
    method: "get", path: "/v1/connect/intentions/check", tags,
    summary: "Would ?source= be allowed to call ?destination=? The deciding intention, else the default (ACL default policy; allow with ACLs off)",
    request: { query: PairQuery }, responses: ok(z.object({ Allowed: z.boolean() })),
  }), byDestination("read", dstQuery), (c) => {
    const source = queryParam(c, "source");
    const destination = queryParam(c, "destination");
    const d = decidingIntention<IntentionRow>(ctx.state.acl.intentions(), source, destination);
    return c.json({ Allowed: d ? d.action === "allow" : intentionDefaultAllow(ctx) });
  }, true);

}

/** Consul's older ID-based routes; registered after /exact and /check, which the {id} pattern would match too. */
function idRoutes(ctx: AuthzContext): void {
  // The destination as the state has it: agents ask a leader (core/acl/facts.ts) rather than find nothing and check "".
  const byId = (access: "read" | "write") => byDestination(access, (c, h) => h.intentionDestination(c.req.param("id") ?? ""));
  mount(ctx, createRoute({ method: "get", path: "/v1/connect/intentions/{id}", tags, summary: "One intention by ID", request: { params: z.object({ id: z.string().max(128) }) }, responses: ok(IntentionSchema) }),
    byId("read"), (c) => {
      const i = ctx.state.acl.intention(c.req.param("id") ?? "");
      if (!i) throw consulError(404, "Intention not found");
      return c.json(intentionView(i));
    }, true);

  mount(ctx, createRoute({ method: "delete", path: "/v1/connect/intentions/{id}", tags, summary: "Delete an intention by ID", request: { params: z.object({ id: z.string().max(128) }) }, responses: ok(z.boolean()) }),
    byId("write"), async (c) => {
      const id = c.req.param("id") ?? "";
      if (!ctx.state.acl.intention(id)) throw consulError(404, "Intention not found");
      await write(ctx, { type: "IntentionDelete", v: 1, at: Date.now(), id });
      return c.json(true);
    });
}
