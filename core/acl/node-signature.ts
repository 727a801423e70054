// Requests one corral node passes to another on a client's behalf (an agent
// forwarding to a leader, a plugin's own call through ctx.forward) carry the
// cluster-secret signature of core/http/rpc-signature.ts. The node that
// received the client's request already authorized, rate-limited and
// audited it; a valid signature tells the receiving node so. An invalid or
// absent one makes it an ordinary client request (no 401: a client may send
// any header it likes). Peer RPC paths are checked (and refused) by
// core/http/middleware/cluster-auth.ts, which marks them the same way.
//
// `isNodeSigned(c)` is the one question the rest of the code asks: "does
// this request carry a valid node signature (MAC, fresh, not replayed)?"
import type { Context, MiddlewareHandler } from "hono";
import type { RpcVerifier } from "../http/middleware/cluster-auth.ts";
import { SIGNATURE_HEADER } from "../http/rpc-signature.ts";
import { readCapped } from "../http/read-capped.ts";

const SIGNED_BY = "corral.nodeSignedBy";

/** Marks a request whose node signature was verified; `node` is the signer's node id. */
export function markNodeSigned(c: Context, node: string): void {
  c.set(SIGNED_BY as never, node as never);
}

/** True when the request carries a valid node signature (checked by nodeSignature or cluster-auth). */
export function isNodeSigned(c: Context): boolean {
  return typeof c.get(SIGNED_BY as never) === "string";
}

/** The node id a valid signature names, if the request has one. */
export function signedBy(c: Context): string | undefined {
  const v = c.get(SIGNED_BY as never) as unknown;
  return typeof v === "string" ? v : undefined;
}

/** Marks requests carrying a valid node signature; peer RPC paths are left to cluster-auth. */
export function nodeSignature(opts: {
  verifier: RpcVerifier;
  peerPrefixes: string[];
  /** http.max_body_bytes: a signed body is never larger (nodes forward only what passed their own limit). */
  maxBodyBytes: number;
  /** Paths whose bodies are streamed, never buffered (the invoke proxy): nothing forwards them signed. */
  streamed?: string[];
}): MiddlewareHandler {
  return async function nodeSignatureMiddleware(c, next) {
    const header = c.req.header(SIGNATURE_HEADER);
    const path = c.req.path;
    if (!header || opts.peerPrefixes.some((p) => path.startsWith(p)) || opts.streamed?.some((p) => path.startsWith(p))) return next();
    // Header first: a missing, malformed, stale, replayed or forged signature costs no body read.
    const url = new URL(c.req.url);
    const host = c.req.header("host");
    const pre = opts.verifier.precheck(header, c.req.method, url.pathname + url.search, host);
    if (!pre.ok) return next();
    // No further than the signed length (nor the body limit): a longer body is not the signed one.
    const body = c.req.method === "GET" || c.req.method === "HEAD" ? new Uint8Array() : await readCapped(c.req.raw.clone() as Request, Math.min(opts.maxBodyBytes, pre.header.length ?? opts.maxBodyBytes));
    if (!body) return next();
    const res = opts.verifier.verify(header, c.req.method, url.pathname + url.search, host, body);
    if (res.ok) markNodeSigned(c, res.header.node);
    return next();
  };
}
