// A fast path, declared on its route (issue 19, point 4). A few hot requests
// (Raft messages, heartbeats, plain KV writes) cost more in hono's context,
// middleware chain and validators than in their own work, so their routes
// may carry a `fast` handler that the route table (core/http/routes.ts) runs
// before hono. It is declared in the route's own RouteEntry so it cannot
// drift from it: the table derives everything the two must agree on from the
// route (core/http/fast-dispatch.ts):
//   - which requests: the route's method and path (exact, or the literal
//     prefix of a path ending in one parameter: `rest` is that parameter);
//   - the body cap: the route table's own cap for that path (the Raft
//     message cap under /v1/raft/, http.max_body_bytes elsewhere); a request
//     without a Content-Length or over the cap goes to the route;
//   - the signature: a route under the signed prefixes (core/http/peer-paths.ts)
//     is checked as the cluster-auth middleware checks it; a request whose
//     signature fails goes to the route, which refuses and audits it;
//   - ACLs, audit, rate limits: an unsigned route's fast path is taken only
//     while none is configured (Security.open), since it skips their middlewares;
//   - the body: with `json`, parsed and validated by the route's own zod
//     schema, refused with the route's answers (core/http/fast-reply.ts);
//   - errors: a thrown ApiError answers as the route table's error handler,
//     anything else as its 500.
// What is left to the declaration is the part only the route knows: a cheap
// test of whether this request is one the fast path takes (`takes`, before
// the body is read) and the answer itself.

import type { HeldSlots } from "./middleware/held-limit.ts";

/** One request the fast path took, its body read (and its signature checked, on a signed route). */
export interface FastRequest<T = true> {
  req: Request;
  body: Uint8Array;
  /** With `json`: the body as the route's zod schema parsed it. */
  data: unknown;
  /** What `takes` returned. */
  taken: T;
  /** The server's env: the client's address (core/http/remote-addr.ts remoteOf). */
  env: unknown;
  /** The route table's held-request slots (the held-limit middleware's own), for a fast path that holds a request. */
  held?: HeldSlots;
  /** The read gate's wait on the leader (core/http/read-gate.ts), for a fast path of a "read" route; absent off leader-role nodes. */
  leaderRead?: (consistent: boolean, path: string) => Promise<void>;
  /** With `nodeSigned`: the node whose valid signature the request carries (undefined: a client's request). */
  signedBy?: string;
}

export interface FastRoute<T = true> {
  /**
   * Whether this request is one for the fast path, before its body is read
   * (no I/O, no await): undefined or false sends it to the route. `rest` is the path
   * after the route's literal prefix (its trailing parameter, undecoded),
   * `length` the declared Content-Length (already within the route's cap; a
   * GET is taken only without a body, its length 0).
   */
  takes?(req: Request, rest: string, length: number): T | undefined | false;
  /** Parse the body as JSON and validate it with the route's JSON body schema (request.body). */
  json?: boolean;
  /**
   * With `json`, for the hottest routes: a cheap test that the route's
   * schema surely accepts the parsed body unchanged (then the schema is not
   * run); false means "let the schema decide", whose refusal is the answer.
   * It must be stricter than the schema, never looser (test it against the
   * schema: test/api/raft-batch.test.ts).
   */
  surelyValid?(parsed: unknown): boolean;
  /**
   * A GET fast path of an unsigned route that also takes requests another
   * node signed (an agent's forward of its client's read): the signature is
   * checked as the node-signature middleware checks it (core/acl/node-signature.ts,
   * the node's one verifier and nonce memory); a request whose signature
   * fails goes to the route, which treats it as a client's. `signedBy` names
   * the signer. Without it, the declaration's `takes` decides what a signed
   * request gets.
   */
  nodeSigned?: boolean;
  /** Counted in corral_http_requests_total under the route's pattern, as the route would be. */
  metered?: boolean;
  /** The answer; may throw ApiError, answered as the route table would. */
  answer(r: FastRequest<T>): Response | Promise<Response>;
}

/** Declares a fast path with its `takes` result typed (the route table stores it untyped). */
export function fastRoute<T = true>(f: FastRoute<T>): FastRoute<any> {
  return f;
}
