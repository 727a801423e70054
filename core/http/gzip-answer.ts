// gzip for shared answers, as Consul's agent does (every endpoint wrapped in
// a gzip handler: a client sending `Accept-Encoding: gzip` gets a body of
// 1,400 bytes or more compressed, with `Content-Encoding: gzip`; `Vary:
// Accept-Encoding` on the answer).
//
// Why here, and only for shared answers (issue 18 point 3, docs/scale.md
// "Held answers in one write"): Bun 1.4.5 corks a socket only around the
// synchronous part of a request handler, so a held blocking read's answer,
// resolved later, leaves in one send() per header piece (≈ 43 for a 47 KB
// health answer) once it exceeds the 16 KB cork buffer; compressed it fits
// in the buffer and leaves in one. A body shape that Bun writes whole when
// resolved late exists only with chunked encoding (a ReadableStream: Bun
// drops its Content-Length), which would change what every client receives.
//
// Compression costs more than the sends it saves if done per watcher, so it
// is done once per cached answer (per table version: `gzippedBody` memoizes
// on the answer the cache hands to every watcher) and offered, not applied:
// a handler marks its Response with the compressed alternative (`offerGzip`),
// and the node's outermost fetch handler swaps it in (`encodeForClient`)
// only if that very Response object leaves the route table. Anything that
// rewrote the answer after the handler (hide_check_output's blanking, the ACL
// list filter, a middleware re-wrapping the body) made a new Response, which
// carries no offer and leaves plain: nothing downstream ever reads gzip.
import { gzipSync } from "node:zlib";

/** Consul's (and Go gziphandler's default) minimum body size worth compressing. */
export const GZIP_MIN_BYTES = 1400;

/** The compressed alternative of the Responses that offer one (weak: a Response not sent is collected with it). */
const offers = new WeakMap<Response, Uint8Array | (() => Uint8Array)>();

/** An answer shared by many requests, its gzip computed at most once. */
export interface GzippableAnswer {
  body: string;
  gzipped?: Uint8Array;
}

/** The answer's body gzipped (level 1: the cheapest; a sixth of a health answer's bytes), computed once per answer. */
export function gzippedBody(a: GzippableAnswer): Uint8Array {
  return (a.gzipped ??= gzipSync(a.body, { level: 1 }));
}

/**
 * Marks `res` (whose body is exactly `answer.body`) as having a gzip
 * alternative, and says `Vary: Accept-Encoding` on it, when the body is
 * large enough to be worth compressing. Returns `res`.
 */
export function offerGzip(res: Response, answer: GzippableAnswer): Response {
  res.headers.append("Vary", "Accept-Encoding");
  // UTF-8 bytes ≥ UTF-16 units: a body this long is at least GZIP_MIN_BYTES; a shorter one of
  // multi-byte characters may be over it too, rarely, and is sent plain (Consul would compress it).
  if (answer.body.length >= GZIP_MIN_BYTES) offers.set(res, () => gzippedBody(answer));
  return res;
}

/** Whether an Accept-Encoding header accepts gzip (a `gzip` coding with q > 0; as Go's gziphandler, `*` is not read as gzip). */
export function acceptsGzip(header: string | null | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.split(";");
    if (coding!.trim().toLowerCase() !== "gzip") continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=");
      if (k!.trim().toLowerCase() === "q") q = Number(v?.trim());
    }
    return Number.isFinite(q) && q > 0;
  }
  return false;
}

/** `res` as the client asked for it: its gzip alternative if it offers one and the request accepts gzip. */
export function encodeForClient(req: Request, res: Response): Response {
  const offer = offers.get(res);
  if (offer === undefined || !acceptsGzip(req.headers.get("accept-encoding"))) return res;
  const headers = new Headers(res.headers);
  headers.set("Content-Encoding", "gzip");
  // The compressed bytes' length (Bun sets it from the body).
  headers.delete("Content-Length");
  const body = typeof offer === "function" ? offer() : offer;
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/** Wraps a fetch handler so every Response offering gzip leaves encoded for a client that accepts it. */
export function gzipOffers<E>(fetch: (req: Request, env?: E) => Response | Promise<Response>): (req: Request, env?: E) => Response | Promise<Response> {
  return (req, env) => {
    const r = fetch(req, env);
    return r instanceof Response ? encodeForClient(req, r) : r.then((res) => encodeForClient(req, res));
  };
}
