// Sets a header on a handler's answer after the handler returned. hono's
// `c.header` after the handler re-makes the Response (new Response(body,
// res)), which loses what is attached to the Response object itself: the
// gzip offer of a shared answer (core/http/gzip-answer.ts). Setting it on
// the Response's own headers keeps the object; a Response whose headers are
// immutable (one straight from fetch) goes the hono way.
import type { Context } from "hono";

export function setAnswerHeader(c: Context, name: string, value: string): void {
  if (!c.finalized) return void c.header(name, value);
  try {
    c.res.headers.set(name, value);
  } catch {
    c.header(name, value);
  }
}
