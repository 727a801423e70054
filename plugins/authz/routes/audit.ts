// GET /v1/audit: the replicated audit log, newest first (operator:read).
//   ?since=  ms since the epoch, an RFC 3339 time, or a duration back from now ("1h")
//   ?accessor=  one token's writes;  ?path=  a path prefix;  ?limit=  1..1000 (default 100)
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, collectPage, pageHeaders, pageParams, parseDuration } from "../../../core/sdk/index.ts";
import { mount, type AuthzContext } from "../common.ts";

const AuditView = z.object({
  at: z.number(), node: z.string(), accessor: z.string(), method: z.string(), path: z.string(), route: z.string(), status: z.number(), remote: z.string(),
}).openapi("AuditRecord");

const Query = z.object({
  since: z.string().max(64).optional(), accessor: z.string().max(128).optional(), path: z.string().max(1024).optional(),
  limit: z.string().regex(/^\d{1,4}$/, "limit is a whole number from 1 to 1000").optional(),
  // Paging (core/http/paging.ts): ?per_page pages by record, newest first; ?filter over the answered fields.
  per_page: z.string().max(8).optional(), next_token: z.string().max(2048).optional(), filter: z.string().max(4096).optional(),
});

/** ms since the epoch from ?since, or a 400. */
export function sinceMs(text: string, nowMs: number): number {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  } else {
    try {
      const ms = parseDuration(text);
      if (ms >= 0) return nowMs - ms;
    } catch {
      // reported below
    }
  }
  throw new ApiError(400, "INVALID_INPUT", `since must be ms since the epoch, an RFC 3339 time or a duration such as "1h", not ${JSON.stringify(text)}`);
}

export function auditRoutes(ctx: AuthzContext): void {
  mount(ctx, createRoute({
    method: "get", path: "/v1/audit", tags: ["audit"], summary: "Writes made through the API, newest first (?since, ?accessor, ?path prefix, ?limit; ?per_page&next_token; ?filter)",
    request: { query: Query }, responses: { 200: { description: "Audit records", content: { "application/json": { schema: z.array(AuditView) } } } },
  }), { resource: "operator", access: "read" }, (c) => {
    const q = c.req.valid("query" as never) as z.infer<typeof Query>;
    const limit = Math.min(1000, Math.max(1, Number(q.limit ?? 100)));
    const since = q.since ? sinceMs(q.since, Date.now()) : undefined;
    // Without ?per_page the answer is the newest `limit` records, as before paging existed.
    const page = collectPage({
      params: pageParams(new URL(c.req.url).searchParams, ["n"]), cap: limit,
      scan: (from, n) => ctx.state.acl.audit({ sinceMs: since, accessor: q.accessor, path: q.path, limit: n, from }),
      keyOf: (r) => [r.seq],
      view: ({ seq: _seq, ...r }) => r,
    });
    for (const [k, v] of Object.entries(pageHeaders(page))) c.header(k, v);
    return c.json(page.views);
  }, true);
}
