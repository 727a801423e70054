// Rejects bodies over maxBytes with 413 before a handler reads them.
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

export function bodyLimit(opts: {
  maxBytes: number;
  overrides?: { prefix: string; maxBytes: number }[];
  /** Paths whose handlers stream the body on and enforce their own limit (the invoke proxy): hono's limiter would buffer a chunked body. */
  streamed?: readonly string[];
  /** Paths that cluster-auth reads and caps itself, after their signature header passed (peer RPC). */
  capturedBy?: readonly string[];
}): MiddlewareHandler {
  const make = (maxBytes: number) =>
    honoBodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError(413, "BODY_TOO_LARGE", `request body is larger than ${maxBytes} bytes`);
      },
    });
  const base = make(opts.maxBytes);
  const special = (opts.overrides ?? []).map((o) => ({ prefix: o.prefix, mw: make(o.maxBytes) }));
  return function bodyLimitMiddleware(c, next) {
    if (opts.streamed?.some((p) => c.req.path.startsWith(p))) return next();
    // hono's limiter buffers a chunked body up to the cap before anyone has
    // checked who sent it: peer RPC is capped by cluster-auth instead, after
    // its signature header passed.
    if (opts.capturedBy?.some((p) => c.req.path.startsWith(p))) return next();
    // Peer messages (a snapshot for a lagging follower) may be larger than any client body.
    const s = special.find((o) => c.req.path.startsWith(o.prefix));
    return (s ? s.mw : base)(c, next);
  };
}
