// Answers proxied from services (/v1/invoke/<svc>/...) come from the API's
// own origin: an HTML page a service returns would run with the dashboard's
// origin, read its sessionStorage token and call the API as the operator.
// Every such answer, corral's own refusals included, is therefore marked
// inert: `Content-Security-Policy: sandbox` gives the document a unique
// opaque origin with scripts, forms and plugins off, and nosniff stops a
// browser guessing HTML from a mislabelled body. The proxy listener (its own
// port, so its own origin) is not affected: see docs/invoke.md.
import type { MiddlewareHandler } from "hono";

export const SANDBOX_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "sandbox",
  "x-content-type-options": "nosniff",
};

/** `res` with the sandbox headers; a copy when its headers are immutable (a fetch answer). */
export function sandboxed(res: Response): Response {
  try {
    for (const [k, v] of Object.entries(SANDBOX_HEADERS)) res.headers.set(k, v);
    return res;
  } catch {
    const out = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
    for (const [k, v] of Object.entries(SANDBOX_HEADERS)) out.headers.set(k, v);
    return out;
  }
}

export function sandboxProxied(opts: { prefixes: readonly string[] }): MiddlewareHandler {
  return async function sandboxProxiedMiddleware(c, next) {
    if (!opts.prefixes.some((p) => c.req.path.startsWith(p))) return next();
    await next();
    // In place when the headers are mutable: reassigning c.res makes hono copy the response.
    const res = sandboxed(c.res);
    if (res !== c.res) c.res = res;
  };
}
