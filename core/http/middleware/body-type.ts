// Which request bodies a route reads as JSON (or TOML job documents): only
// ones that say so, or say nothing. A browser sends text/plain,
// application/x-www-form-urlencoded and multipart/form-data across sites
// without a CORS preflight (a <form>, fetch with mode "no-cors"); were such a
// body parsed as JSON, any page could submit a job. They are refused with 415
// before a handler reads them. A missing Content-Type is accepted: real
// clients (python-consul, Go's net/http without a header) send JSON that way.
// A page can send an unlabelled body too (a Blob without a type): the Origin
// check of core/http/browser-guard.ts is the first line, this the second.
//
// Raw-body routes (a KV value, a proxied call) take any type: they do not
// parse it. Peer RPC is signed and exempt.
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

// application/json, any type ending "+json", and the TOML types job documents use (application/toml, text/toml, "+toml").
const STRUCTURED = /^[a-z0-9!#$&^_.+-]+\/(json|toml|x-toml|[a-z0-9!#$&^_.-]+\+(json|toml))$/;

/** The media type of a Content-Type value, lower case, without parameters. */
export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** True when a body of this Content-Type (null: none given) may be parsed as JSON or TOML. */
export function parsableBodyType(contentType: string | null): boolean {
  if (contentType === null || contentType.trim() === "") return true;
  return STRUCTURED.test(mediaType(contentType));
}

function hasBody(h: Headers): boolean {
  const cl = h.get("content-length");
  return h.has("transfer-encoding") || (cl !== null && cl.trim() !== "0");
}

export function bodyType(opts: { raw: readonly string[]; exempt: readonly string[] }): MiddlewareHandler {
  return function bodyTypeMiddleware(c, next) {
    const m = c.req.method;
    if (m === "GET" || m === "HEAD" || m === "OPTIONS") return next();
    const h = c.req.raw.headers;
    if (!hasBody(h)) return next();
    const type = h.get("content-type");
    if (parsableBodyType(type)) return next();
    const path = c.req.path;
    if (opts.raw.some((p) => path.startsWith(p)) || opts.exempt.some((p) => path.startsWith(p))) return next();
    throw new ApiError(
      415, "UNSUPPORTED_MEDIA_TYPE",
      `Content-Type ${JSON.stringify(mediaType(type!).slice(0, 100))} is not accepted here: send the body as application/json (curl: -H 'Content-Type: application/json'), or TOML job documents as application/toml`,
    );
  };
}
