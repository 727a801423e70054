// Requests one corral node passes to another on a client's behalf (an agent
// forwarding to a leader, a plugin's own call through ctx.forward) carry the
// cluster-secret signature of core/http/middleware/cluster-auth.ts. The node
// that received the client's request already authorized, rate-limited and
// audited it; a valid signature tells the receiving node so. An invalid or
// absent one makes it an ordinary client request (no 401: a client may send
// any header it likes).
import type { Context, MiddlewareHandler } from "hono";
import { SIGNATURE_HEADER, verifySignature } from "../http/middleware/cluster-auth.ts";
import { STREAMED_BODY_PREFIXES } from "../http/middleware/body-limit.ts";

const TRUSTED = "corral.nodeSigned";

/** Marks requests carrying a valid node signature; peer RPC paths are left to cluster-auth. */
export function nodeSignature(opts: { secret: string; peerPrefixes: string[] }): MiddlewareHandler {
  return async function nodeSignatureMiddleware(c, next) {
    const header = c.req.header(SIGNATURE_HEADER);
    // Streamed bodies (the invoke proxy) are never node-forwarded and no limit bounds them here:
    // reading one to check a made-up signature let a client with no token make the node buffer it.
    const path = c.req.path;
    if (header && !opts.peerPrefixes.some((p) => path.startsWith(p)) && !STREAMED_BODY_PREFIXES.some((p) => path.startsWith(p))) {
      const url = new URL(c.req.url);
      const body = c.req.method === "GET" || c.req.method === "HEAD" ? new Uint8Array() : new Uint8Array(await c.req.raw.clone().arrayBuffer());
      if (verifySignature(opts.secret, header, c.req.method, url.pathname + url.search, body)) c.set(TRUSTED as never, true as never);
    }
    return next();
  };
}

export function isNodeSigned(c: Context): boolean {
  return c.get(TRUSTED as never) === true;
}
