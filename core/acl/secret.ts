// Token secrets: made from 128 random bits, stored only as their SHA-256,
// compared in constant time, shown once. A salt or a slow hash is not needed:
// secrets are random, not chosen by people, so a hash of one cannot be
// guessed back. Where a request's token comes from follows Consul (reference §2).
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

/** How a secret looks in every answer after its creation. */
export const MASKED_SECRET = "<hidden>";

/** 128 random bits written like a UUID (Consul clients expect that shape). */
export function newSecret(): string {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function newAccessorId(): string {
  return randomUUID();
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Longest token header or parameter read; anything longer cannot be a token of ours. */
export const MAX_TOKEN_CHARS = 256;

/**
 * The request's token: `?token=`, then `X-Consul-Token`, then
 * `X-Corral-Token`, then `Authorization: Bearer <token>` (scheme
 * case-insensitive). "" = none. Every decision about a request's caller (the
 * ACL, limits, the invoke proxy's intentions) takes it from here: the invoke
 * route used to check the ACL with `?token=` or `X-Consul-Token` and
 * intentions with `X-Corral-Token`, so a caller could pair one token's ACL
 * rights with another token's service identity.
 */
export function requestToken(url: string, header: (name: string) => string | undefined): string {
  const q = new URL(url).searchParams.get("token");
  if (q) return q.slice(0, MAX_TOKEN_CHARS + 1);
  return headerToken(header);
}

/** requestToken for a request with no `?token=` (the invoke proxy knows it without parsing a URL per request). */
export function headerToken(header: (name: string) => string | undefined): string {
  const x = header("x-consul-token") || header("x-corral-token");
  if (x) return x.trim().slice(0, MAX_TOKEN_CHARS + 1);
  const auth = header("authorization");
  return auth ? bearerToken(auth).slice(0, MAX_TOKEN_CHARS + 1) : "";
}

/**
 * The token of an `Authorization` value as requestToken reads it: after
 * "Bearer" (any case) and any white space, the first run of non-space
 * characters ("" when the value is not a bearer credential). Lenient on
 * purpose (JS white space, trailing words), as clients send it; the invoke
 * proxy strips what this accepts (plugins/invoke/credentials.ts), so the two
 * can never disagree about what is a corral credential.
 */
export function bearerToken(value: string): string {
  const m = /^bearer\s+(\S+)/i.exec(value.trim());
  return m ? m[1]! : "";
}
