// HEAD answered with the GET's own Response, so that its Content-Length is the
// GET's (and, for a client asking gzip, the compressed one's,
// core/http/gzip-answer.ts) instead of a false 0.
//
// hono answers HEAD by running the GET route and re-making its Response
// without a body (`new Response(null, res)`); the GET's body length is not
// among the headers it copies (Bun computes it when it writes), so Bun sent
// every HEAD answer with `Content-Length: 0`, whatever the GET's length.
// The route table's outermost middleware keeps the GET's final Response for
// the HEAD request (after every other middleware and the error handler), and
// the table answers with it: Bun writes a HEAD answer's headers with the
// body's length and never its bytes (a stream body, whose length it does not
// know, is cancelled and its Content-Length left out, as Go's net/http
// leaves it out for a body it has not seen whole). hono's bodiless copy also
// left a stream body open for ever: every HEAD on /v1/events held an event
// stream (corral_event_streams) until the node stopped.
import type { MiddlewareHandler } from "hono";

/** The GET's Response of each HEAD request in flight (weak: one that never came back is collected with its request). */
const getAnswers = new WeakMap<Request, Response>();

/** The route table's first middleware: keeps the final Response of a HEAD request (run as its GET route by hono). */
export const keepHeadAnswer: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.req.raw.method === "HEAD") getAnswers.set(c.req.raw, c.res);
};

/** Wraps hono's fetch: a HEAD request is answered with its GET's Response when keepHeadAnswer kept one. */
export function headAnswers<E>(fetch: (req: Request, env?: E) => Response | Promise<Response>): (req: Request, env?: E) => Response | Promise<Response> {
  return (req, env) => {
    if (req.method !== "HEAD") return fetch(req, env);
    const pick = (bodiless: Response): Response => {
      const full = getAnswers.get(req);
      getAnswers.delete(req);
      return full ?? bodiless;
    };
    const r = fetch(req, env);
    return r instanceof Response ? pick(r) : r.then(pick);
  };
}
