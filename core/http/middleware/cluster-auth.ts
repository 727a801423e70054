// Peer and agent RPC (/v1/cluster/*, /v1/raft/*) is signed with the cluster
// secret: HMAC-SHA256 over time, method, path and body hash. The secret never
// crosses the wire, and a captured request stops being accepted after the
// allowed clock skew. Compared in constant time.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

export const SIGNATURE_HEADER = "X-Corral-Signature";
const MAX_SKEW_MS = 5 * 60_000;

function signature(secret: string, timeMs: number, method: string, path: string, body: string | Uint8Array): string {
  const bodyHash = createHash("sha256").update(body).digest("hex");
  return createHmac("sha256", secret).update(`${timeMs}\n${method.toUpperCase()}\n${path}\n${bodyHash}`).digest("hex");
}

/** Header value for an outgoing RPC. `path` includes the query string. */
export function signRequest(secret: string, method: string, path: string, body: string | Uint8Array, nowMs = Date.now()): string {
  return `t=${nowMs},sig=${signature(secret, nowMs, method, path, body)}`;
}

export function verifySignature(
  secret: string,
  header: string | undefined | null,
  method: string,
  path: string,
  body: string | Uint8Array,
  nowMs = Date.now(),
): boolean {
  if (!header || !secret) return false;
  const m = /^t=(\d{1,16}),sig=([0-9a-f]{64})$/.exec(header.trim());
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowMs - t) > MAX_SKEW_MS) return false;
  const want = Buffer.from(signature(secret, t, method, path, body), "hex");
  const got = Buffer.from(m[2]!, "hex");
  return want.length === got.length && timingSafeEqual(want, got);
}

export function clusterAuth(opts: { secret: string; prefixes: string[] }): MiddlewareHandler {
  return async function clusterAuthMiddleware(c, next) {
    const path = c.req.path;
    if (!opts.prefixes.some((p) => path.startsWith(p))) return next();
    const url = new URL(c.req.url);
    // Read through hono's body cache, not a clone of the stream: the route's
    // validator then parses the cached bytes instead of teeing the stream.
    const body = new Uint8Array(await c.req.arrayBuffer());
    const ok = verifySignature(opts.secret, c.req.header(SIGNATURE_HEADER), c.req.method, url.pathname + url.search, body);
    if (!ok) throw new ApiError(401, "UNAUTHORIZED", "missing or invalid cluster signature (check cluster.secret)");
    return next();
  };
}
