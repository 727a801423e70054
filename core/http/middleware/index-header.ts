// Reads carry the index of the state they were answered from, so a client can
// tell how fresh an answer is and wait for a later one (X-Corral-Index).
import type { MiddlewareHandler } from "hono";

export function indexHeader(opts: { appliedIndex: () => number }): MiddlewareHandler {
  return async function indexHeaderMiddleware(c, next) {
    const before = opts.appliedIndex();
    await next();
    if (c.req.method === "GET" && !c.res.headers.has("X-Corral-Index")) {
      c.res.headers.set("X-Corral-Index", String(Math.max(before, 0)));
    }
  };
}
