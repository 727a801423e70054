// Per-token and per-address request rate limits (token buckets): over the
// limit → 429 with Retry-After (whole seconds, at least 1). /v1/healthz,
// peer RPC and requests another node signed and passed on (that node
// applied its own limits) are exempt. The token key is the secret's hash,
// so no secret is kept in memory longer than the request.
import type { MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import { ApiError } from "../errors.ts";
import { isConsulPath } from "../consul-paths.ts";
import { remoteAddress } from "../remote-addr.ts";
import { TokenBuckets } from "../token-bucket.ts";
import { requestToken } from "../../acl/secret.ts";
import { isNodeSigned } from "../../acl/node-signature.ts";

export interface RateLimitOptions {
  /** Requests per second per token (0 = no limit). */
  perToken: number;
  /** Requests per second per client address (0 = no limit). */
  perAddress: number;
  /** Requests a quiet client may send at once. */
  burst: number;
  exempt: (path: string) => boolean;
  now?: () => number;
}

export function rateLimit(opts: RateLimitOptions): MiddlewareHandler | undefined {
  if (opts.perToken <= 0 && opts.perAddress <= 0) return undefined;
  const byToken = opts.perToken > 0 ? new TokenBuckets(opts.perToken, Math.max(1, opts.burst)) : undefined;
  const byAddress = opts.perAddress > 0 ? new TokenBuckets(opts.perAddress, Math.max(1, opts.burst)) : undefined;
  const now = opts.now ?? (() => performance.now());
  return async function rateLimitMiddleware(c, next) {
    if (opts.exempt(c.req.path) || isNodeSigned(c)) return next();
    const t = now();
    const checks: [TokenBuckets | undefined, () => string][] = [
      [byAddress, () => "a:" + remoteAddress(c)],
      [byToken, () => {
        const token = requestToken(c.req.url, (n) => c.req.header(n));
        return token ? "t:" + createHash("sha256").update(token).digest("hex") : "";
      }],
    ];
    for (const [buckets, key] of checks) {
      if (!buckets) continue;
      const k = key();
      if (!k) continue;
      const r = buckets.take(k, t);
      if (!r.ok) {
        const retry = String(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
        throw new ApiError(429, "RATE_LIMITED", "rate limit exceeded; retry later", { "Retry-After": retry }, isConsulPath(c.req.path) ? "text" : "json");
      }
    }
    return next();
  };
}
