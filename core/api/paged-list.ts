// What every paged list route shares: the ?per_page/?next_token/?filter
// query (for validation and the OpenAPI document) and the answer's next-token
// headers. The paging itself is core/http/paging.ts.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { MAX_FILTER_LENGTH } from "../http/bexpr.ts";
import { pageHeaders, pageParams, type KeyShape, type PageParams } from "../http/paging.ts";

export const PageQuery = z.object({
  per_page: z.string().max(8).optional().openapi({ description: "Items per page (1..10000); absent: all" }),
  next_token: z.string().max(2048).optional().openapi({ description: "X-Corral-NextToken (alias X-Nomad-NextToken) of the previous page" }),
  filter: z.string().max(MAX_FILTER_LENGTH).optional().openapi({ description: 'go-bexpr subset over the answered fields, e.g. Status == "running" and Meta.team == "web"' }),
});

/**
 * ?prefix on the jobs and nodes lists (Nomad's): only IDs (jobs) or names
 * (nodes) starting with it. Unlike ?filter it narrows the scan in SQL, so a
 * name-prefix search over 100,000 jobs reads only what it answers.
 */
export const PrefixQuery = z.object({
  prefix: z.string().max(256).optional().openapi({ description: "Only items whose ID (jobs) or name (nodes) starts with this" }),
});

/** The request's paging and filter, validated (400 JSON on a malformed one). */
export function pageRequest(c: Context, shape: KeyShape): PageParams {
  return pageParams(new URL(c.req.url).searchParams, shape);
}

/** Sets X-Corral-NextToken and X-Nomad-NextToken when another page follows. */
export function setPageHeaders(c: Context, page: { nextToken?: string }): void {
  for (const [k, v] of Object.entries(pageHeaders(page))) c.header(k, v);
}
