// Nothing the API answers may run as a page on the API's origin, which is
// also the dashboard's: a document there could read the dashboard's token
// from sessionStorage and call the API as the operator.
//
// - Answers proxied from services (/v1/invoke/<svc>/...) are the service's
//   content: `Content-Security-Policy: sandbox` is added to whatever policy
//   the service sent (a browser enforces every policy it gets), so an HTML
//   page runs in a unique opaque origin with scripts, forms and plugins off;
//   `X-Content-Type-Options: nosniff` stops a browser guessing HTML from a
//   mislabelled body. Corral's own refusals there get the same.
// - Every other answer without a policy of its own (JSON, KV values, logs,
//   metrics, a plugin's route) gets the same two headers, as a default: only
//   the dashboard's page sets its own (strict) policy.
// The proxy listener (its own port, so its own origin) is not affected: see
// docs/invoke.md.
import type { MiddlewareHandler } from "hono";

const SANDBOX = "sandbox";

/** `res` with the inert headers; a copy when its headers are immutable (a fetch answer). */
export function inert(res: Response, proxied: boolean): Response {
  const apply = (h: Headers) => {
    if (proxied) h.append("content-security-policy", SANDBOX);
    else if (!h.has("content-security-policy")) h.set("content-security-policy", SANDBOX);
    h.set("x-content-type-options", "nosniff");
  };
  try {
    apply(res.headers);
    return res;
  } catch {
    const out = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
    apply(out.headers);
    return out;
  }
}

export function inertAnswers(opts: { proxied: readonly string[] }): MiddlewareHandler {
  return async function inertAnswersMiddleware(c, next) {
    await next();
    const proxied = opts.proxied.some((p) => c.req.path.startsWith(p));
    // In place when the headers are mutable: reassigning c.res makes hono copy the response.
    const res = inert(c.res, proxied);
    if (res !== c.res) c.res = res;
  };
}
