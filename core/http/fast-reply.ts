// How a fast path answers (issue 19, point 4): byte for byte as the route
// table would for the route it shadows, so a client cannot tell which one
// answered. The fast-path dispatcher (core/http/fast-dispatch.ts) and the fast
// paths declared on routes build their Responses here and nowhere else; test/cluster/fast-path-corpus.test.ts
// sends the same corpus to a fast path and its route and requires the same answers.
import { apiErrorReply, errorBody } from "./app.ts";
import { ApiError } from "./errors.ts";

/** As hono's c.json: the same Content-Type (no charset). */
export const fastJson = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** As the route table's error handler answers an ApiError (core/http/app.ts): clipped, text or JSON. */
export function fastError(err: ApiError): Response {
  const reply = apiErrorReply(err);
  if ("text" in reply) {
    return new Response(reply.text, { status: err.status, headers: { "content-type": "text/plain; charset=UTF-8", ...err.headers } });
  }
  return fastJson(err.status, reply.json, err.headers);
}

/**
 * As the route table's defaultHook answers a body that fails the route's zod
 * schema: its invalidInput (core/http/app.ts) answers the whole message, not
 * clipped as an ApiError's (a Command's unknown type lists every type, longer
 * than MAX_ERROR_CHARS: test/cluster/fast-path-corpus.test.ts).
 */
export function fastInvalidInput(issue: { path: PropertyKey[]; message: string } | undefined): Response {
  const where = issue?.path?.length ? `${issue.path.join(".")}: ` : "";
  return fastJson(400, errorBody("INVALID_INPUT", `${where}${issue?.message ?? "invalid input"}`));
}

/** As the route's JSON validator answers a body that is not JSON (hono's HTTPException, mapped by onError). */
export const fastMalformedJson = (): Response => fastJson(400, errorBody("BAD_REQUEST", "Malformed JSON in request body"));

/** As the route table answers an unexpected throw. */
export const fastInternal = (): Response => fastJson(500, errorBody("INTERNAL", "internal error"));
