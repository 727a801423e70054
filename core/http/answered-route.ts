// Which route answered a request, for the records made after it ran (the
// audit log, request metrics). Several routes may match one path: PUT
// /v1/agent/service/deregister/x matches its own route and the 405 route of
// GET /v1/agent/service/{id}. hono runs them in order and the first handler
// that returns answers, so the answer came from the route hono dispatched
// last (c.req.routeIndex, read after the chain ran); when a middleware in
// front of every route refused (a 413, a 429) no route ran, and the first
// route that matched is the one hono would have run. Taking the last match
// named the 405 route.
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/** The hono path ("/v1/kv/:key{.*}") of the route that answered, or undefined when none matched. */
export function answeredRoutePath(c: Context): string | undefined {
  const matched = matchedRoutes(c);
  const ran = matched[c.req.routeIndex];
  if (ran && ran.method !== "ALL") return ran.path;
  return matched.find((r) => r.method !== "ALL")?.path;
}
