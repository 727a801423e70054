// Credentials corral accepted from a caller stay with corral: a backend
// behind the proxy must never see the caller's corral token (it could call
// the API as the caller). Corral reads a token from X-Corral-Token,
// X-Consul-Token, `Authorization: Bearer <token>` and `?token=`
// (core/acl/secret.ts); the first two are corral's own headers and always
// dropped (headers.ts, fast/http1.ts), the last two are handled here.
//
// `Authorization` is shared with backends (their own bearer tokens, Basic
// auth), so only a bearer value holding a corral-shaped secret (a UUID) is
// removed: every corral token secret is a UUID (newSecret, and a SecretID
// given at creation must be one). `token` query parameters are always removed:
// corral reads `?token=` first, so one present is the caller's corral token.
// Pure functions; used by the fetch front and the raw listener alike.
import { bearerToken, isUuid } from "../../core/sdk/index.ts";

const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * A bearer credential (as corral's own parse reads one, core/acl/secret.ts
 * bearerToken: any case, any white space, words after it) holding a
 * corral-shaped secret anywhere. Stricter RFC 9110 parsing here let
 * `Bearer <token> x` and NBSP around the token through: corral authorized the
 * call with the token and the backend received it.
 */
export function isCorralBearer(value: string): boolean {
  const token = bearerToken(value);
  return token !== "" && (isUuid(token) || UUID_ANYWHERE.test(value));
}

/** The query parameter's name as URLSearchParams decodes it (what requestToken reads). */
function paramName(part: string): string {
  const eq = part.indexOf("=");
  const raw = (eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, " ");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** `target` (path and query) without any `token` query parameter. */
export function withoutTokenParam(target: string): string {
  const q = target.indexOf("?");
  if (q < 0 || !/token|%/i.test(target.slice(q))) return target; // the common case: no work ("%74oken" is "token" too)
  const hash = target.indexOf("#", q);
  const query = target.slice(q + 1, hash < 0 ? undefined : hash);
  const kept = query.split("&").filter((part) => part !== "" && paramName(part) !== "token");
  return target.slice(0, q) + (kept.length ? `?${kept.join("&")}` : "") + (hash < 0 ? "" : target.slice(hash));
}
