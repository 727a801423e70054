// GET /v1/ui/session?can=plugin:write:dns&can=key:write:app/db
//
// What the dashboard asks before it draws a button: are ACLs on, who is this
// token, and may it do each listed thing. It answers from the identity the
// core's ACL middleware resolved for this very request (the route needs any
// token that resolves: "authenticated"), so the answer is the enforcement's
// own decision, not a second implementation of it. With ACLs off the
// middleware resolves nothing and every check is allowed.
//
// A check is `resource:access[:segment]`, access `read`, `write`, or
// `write-under` (write on the segment and everything below it: what a
// recursive KV delete needs). The segment is the rest of the string, so it
// may hold colons.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  ApiError, type PluginContext, requestIdentity, type Resource, SEGMENTED, UNSEGMENTED,
} from "../../core/sdk/index.ts";

const RESOURCES = new Set<string>([...SEGMENTED, ...UNSEGMENTED]);
const ACCESS = new Set(["read", "write", "write-under"]);
export const MAX_CHECKS = 100;

export interface Check {
  resource: Resource;
  access: "read" | "write" | "write-under";
  segment: string;
}

/** "key:write:a:b" → { key, write, "a:b" }; throws a 400 naming the bad check. */
export function parseCheck(text: string): Check {
  const [resource = "", access = "", ...rest] = text.split(":");
  if (!RESOURCES.has(resource)) throw new ApiError(400, "INVALID_INPUT", `can=${text}: unknown resource "${resource}" (one of ${[...RESOURCES].join(", ")})`);
  if (!ACCESS.has(access)) throw new ApiError(400, "INVALID_INPUT", `can=${text}: access must be read, write or write-under`);
  return { resource: resource as Resource, access: access as Check["access"], segment: rest.join(":") };
}

const SessionView = z
  .object({
    acl: z.object({ enabled: z.boolean() }),
    token: z.object({ accessorId: z.string(), description: z.string(), anonymous: z.boolean() }).nullable(),
    can: z.record(z.string(), z.boolean()),
  })
  .openapi("UiSession");

export function sessionRoute(ctx: PluginContext<unknown>): void {
  ctx.route(
    createRoute({
      method: "get", path: "/v1/ui/session", tags: ["ui"],
      summary: "For the dashboard: whether ACLs are on, the presented token, and whether it may do each ?can=resource:access[:segment]",
      request: { query: z.object({ can: z.union([z.string().max(1100), z.array(z.string().max(1100)).max(MAX_CHECKS)]).optional() }).passthrough() },
      responses: { 200: { description: "The session", content: { "application/json": { schema: SessionView } } } },
    }),
    (c: Context) => {
      const asked = new URL(c.req.url).searchParams.getAll("can");
      if (asked.length > MAX_CHECKS) throw new ApiError(400, "INVALID_INPUT", `at most ${MAX_CHECKS} checks per request`);
      const checks = asked.map((text) => [text, parseCheck(text)] as const);
      const id = requestIdentity(c);
      const can: Record<string, boolean> = {};
      for (const [text, ch] of checks) {
        if (!id) can[text] = true;
        else if (ch.access === "write-under") can[text] = id.authz.allowedUnder(ch.resource, ch.segment, "write");
        else can[text] = id.authz.allowed(ch.resource, ch.segment, ch.access);
      }
      return c.json({
        acl: { enabled: id !== undefined },
        token: id ? { accessorId: id.accessorId, description: id.description, anonymous: id.anonymous } : null,
        can,
      });
    },
    { permission: "authenticated" },
  );
}
