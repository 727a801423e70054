// Runs the fast paths declared on routes (core/http/fast-route.ts) before
// hono. Built by the route table from its entries on every rebuild, so a
// route's fast path comes and goes with the route. Everything a fast path
// and its route must agree on is taken from the route and the table here,
// once for every fast path: match, body cap, signature, ACL gate, JSON
// schema, error answers, request metrics.
import type { ZodType } from "zod";
import type { Logger } from "../log.ts";
import { CLIENT_CLOSED } from "./errors.ts";
import { knownApiError } from "./known-error.ts";
import { fastError, fastInternal, fastInvalidInput, fastMalformedJson } from "./fast-reply.ts";
import type { FastRoute } from "./fast-route.ts";
import type { HttpMetrics } from "./middleware/http-metrics.ts";
import type { HeldSlots } from "./middleware/held-limit.ts";
import { SIGNATURE_HEADER, type RpcVerifier } from "./middleware/cluster-auth.ts";
import { pathAndQueryOf, pathOf } from "./path-of.ts";
import { inert } from "./middleware/inert-answers.ts";

/** What the route table knows that its fast paths share. */
export interface FastShape {
  /** The node's one verifier (its nonce memory is the cluster-auth middleware's). */
  verifier: RpcVerifier;
  /** Path prefixes whose requests must be node-signed (the cluster-auth middleware's). */
  signedPrefixes: readonly string[];
  /** The route table's body cap for a path (the cluster-auth and body-limit middlewares'). */
  bodyCap(path: string): number;
  /** No ACL, audit or rate limit would act on a request (Security.open): an unsigned fast path may skip their middlewares. */
  open(): boolean;
  /** The request metrics the route table's middleware feeds. */
  metrics?: HttpMetrics;
  /** The held-limit middleware's slots (a fast path that holds a request takes them too). */
  held?: HeldSlots;
  /** The read gate's wait on the leader, for fast paths of "read" routes. */
  leaderRead?: (consistent: boolean, path: string) => Promise<void>;
  /** The state's applied index: a GET's answer without X-Corral-Index gets it, as the index-header middleware adds it. */
  appliedIndex?: () => number;
  log: Logger;
}

/** What a fast path needs of its route (a RouteEntry's parts). */
export interface FastEntry {
  method: string;
  /** As written in createRoute: "/v1/raft/message", "/v1/kv/{key{.*}}". */
  path: string;
  /** The route's JSON body schema (request.body["application/json"]), if any. */
  bodySchema?: ZodType;
  fast: FastRoute<any>;
}

export type Fetch = (req: Request, env?: unknown) => Response | Promise<Response>;
/** Answers a request on a fast path, or undefined: the route table answers. */
export type FastDispatch = (req: Request, env?: unknown) => Promise<Response> | undefined;

interface Compiled {
  method: string;
  /** The path, or its literal part before its parameter. */
  prefix: string;
  /** The literal part after a parameter that is not the last segment ("/allocations"), or "". */
  suffix: string;
  exact: boolean;
  signed: boolean;
  cap: number;
  label: string;
  run: (req: Request, env: unknown, rest: string) => Promise<Response> | undefined;
}

/**
 * A Content-Type the route's JSON validator reads as JSON (@hono/zod-openapi's
 * media-type gate, its jsonRequestRegex). Any other (none, text/plain, a
 * typo) goes to the route, which answers 415 or validates an empty object.
 */
const JSON_REQUEST_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/** "/v1/kv/{key{.*}}" → "/v1/kv/{key}": the route's label in the request metrics (routePattern of its hono path). */
export const metricsLabel = (path: string): string => path.replace(/\{(\w+)\{[^}]*\}\}/g, "{$1}");

/**
 * The fast paths' matcher: exact paths, a literal prefix and one trailing
 * parameter, or one parameter between a literal prefix and a literal suffix
 * ("/v1/node/{id}/allocations": the parameter is one segment, as hono's
 * router matches it). Anything else is refused when the route is added: the
 * rest of the path would not say which parameter is which.
 */
function splitPath(path: string): { prefix: string; suffix: string; exact: boolean } {
  const at = path.indexOf("{");
  if (at === -1) return { prefix: path, suffix: "", exact: true };
  const end = path.indexOf("}", at);
  // A parameter with a pattern ("{key{.*}}") ends at its second brace.
  const close = path[end + 1] === "}" ? end + 1 : end;
  const param = path.slice(at, close + 1);
  const suffix = path.slice(close + 1);
  const oneSegment = suffix === "" || (/^\{\w+\}$/.test(param) && /^\/[^{}]+$/.test(suffix) && !suffix.endsWith("/"));
  if (end === -1 || !/^\{\w+(\{[^}]*\})?\}$/.test(param) || path[at - 1] !== "/" || !oneSegment) {
    throw new Error(`a fast path needs an exact path or one trailing parameter: ${path}`);
  }
  return { prefix: path.slice(0, at), suffix, exact: false };
}

/** The parameter's part of `path` for a route with a prefix and a suffix: one segment, not empty; undefined when it does not match. */
function middleOf(path: string, prefix: string, suffix: string): string | undefined {
  if (path.length <= prefix.length + suffix.length || !path.endsWith(suffix)) return undefined;
  const rest = path.slice(prefix.length, path.length - suffix.length);
  return rest.includes("/") ? undefined : rest;
}

/** The dispatcher for these routes' fast paths; undefined when none declares one. */
export function fastDispatcher(entries: readonly FastEntry[], shape: FastShape, route: Fetch): FastDispatch | undefined {
  const list = entries.map((e) => compile(e, shape, route));
  if (list.length === 0) return undefined;
  return (req, env) => {
    const method = req.method;
    let path: string | undefined;
    for (const f of list) {
      if (f.method !== method) continue;
      path ??= pathOf(req.url);
      if (f.exact ? path !== f.prefix : !path.startsWith(f.prefix)) continue;
      if (f.suffix === "") return f.run(req, env, f.exact ? "" : path.slice(f.prefix.length));
      const rest = middleOf(path, f.prefix, f.suffix);
      // Another route under the same prefix ("/v1/node/{id}", "/v1/node/{id}/drain"): the next fast path, or hono.
      if (rest !== undefined) return f.run(req, env, rest);
    }
    return undefined;
  };
}

/** Throws if the table could not run this fast path (checked when the route is added, before it is kept). */
export function checkFastEntry(e: FastEntry): void {
  splitPath(e.path);
  if (e.fast.json && !e.bodySchema) throw new Error(`a json fast path needs its route's JSON body schema: ${e.method.toUpperCase()} ${e.path}`);
}

function compile(e: FastEntry, shape: FastShape, route: Fetch): Compiled {
  checkFastEntry(e);
  const { prefix, suffix, exact } = splitPath(e.path);
  const method = e.method.toUpperCase();
  const signed = shape.signedPrefixes.some((p) => prefix.startsWith(p));
  const cap = shape.bodyCap(prefix);
  const label = metricsLabel(e.path);
  const f = e.fast;
  const c: Compiled = {
    method, prefix, suffix, exact, signed, cap, label,
    run: (req, env, rest) => {
      const declared = req.headers.get("content-length");
      // A GET is taken only without a body (as clients send it); anything else to the route.
      if (method === "GET" && (declared !== null || req.headers.has("transfer-encoding"))) return undefined;
      const length = method === "GET" ? 0 : Number(declared ?? NaN);
      // No length, or over the route's cap: the route's body limit decides.
      if (!Number.isFinite(length) || length > cap) return undefined;
      // An unsigned fast path skips the ACL, audit and rate-limit middlewares: only while there are none.
      if (!signed && !shape.open()) return undefined;
      if (f.json && !JSON_REQUEST_TYPE.test(req.headers.get("content-type") ?? "")) return undefined;
      const taken = f.takes ? f.takes(req, rest, length) : true;
      if (taken === undefined || taken === false) return undefined;
      if (signed) {
        // Header, MAC, freshness and nonce before the body, and the signed length
        // must be the declared one: anything else goes to the route table unread.
        const pre = shape.verifier.precheck(req.headers.get(SIGNATURE_HEADER), method, pathAndQueryOf(req.url), req.headers.get("host"));
        // (A v1 signature, legacy mode, announces no length: the content-length bound above is its cap.)
        if (!pre.ok || (pre.header.length !== undefined && pre.header.length !== length)) return undefined;
      } else if (f.nodeSigned && req.headers.has(SIGNATURE_HEADER)) {
        // A signature the node-signature middleware would not accept: the route, which treats the request as a client's.
        if (method !== "GET") return undefined;
        const pre = shape.verifier.precheck(req.headers.get(SIGNATURE_HEADER), method, pathAndQueryOf(req.url), req.headers.get("host"));
        if (!pre.ok) return undefined;
      }
      return answer(c, e, shape, route, req, env, taken);
    },
  };
  return c;
}

/** A GET's body (taken only without one). */
const NO_BODY = new Uint8Array(0);

/** One decoder for every body (a fast path runs per request; decode() keeps no state between calls). */
const utf8 = new TextDecoder();

async function answer(c: Compiled, e: FastEntry, shape: FastShape, route: Fetch, req: Request, env: unknown, taken: unknown): Promise<Response> {
  // The state the request arrived at (the index-header middleware reads it first too).
  const arrived = c.method === "GET" ? shape.appliedIndex?.() : undefined;
  let signedBy: string | undefined;
  if (!c.signed && e.fast.nodeSigned && req.headers.has(SIGNATURE_HEADER)) {
    // As the node-signature middleware: the whole check (the empty body's hash, the nonce spent) or a client's request.
    const v = shape.verifier.verify(req.headers.get(SIGNATURE_HEADER), c.method, pathAndQueryOf(req.url), req.headers.get("host"), NO_BODY);
    // Unread and unspent (a refused signature remembers no nonce): the route finds the same.
    if (!v.ok) return route(req, env);
    signedBy = v.header.node;
  }
  const started = e.fast.metered ? shape.metrics?.now() : undefined;
  let res: Response;
  try {
    const body = c.method === "GET" ? NO_BODY : new Uint8Array(await req.arrayBuffer());
    if (c.signed && !shape.verifier.verify(req.headers.get(SIGNATURE_HEADER), c.method, pathAndQueryOf(req.url), req.headers.get("host"), body).ok) {
      return refuseByRoute(route, req, env, body);
    }
    let data: unknown;
    let refused: Response | undefined;
    if (e.fast.json) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(utf8.decode(body));
      } catch {
        refused = fastMalformedJson();
      }
      if (!refused && e.fast.surelyValid?.(parsed)) data = parsed;
      else if (!refused) {
        const out = e.bodySchema!.safeParse(parsed);
        if (out.success) data = out.data;
        else refused = fastInvalidInput(out.error.issues[0]);
      }
    }
    res = refused ?? await e.fast.answer({ req, body, data, taken, env, held: shape.held, leaderRead: shape.leaderRead, signedBy });
  } catch (err) {
    const known = knownApiError(err);
    if (known) res = fastError(known);
    else if (req.signal.aborted) {
      // As the route table answers a request its client abandoned (core/http/app.ts).
      shape.log.debug("request abandoned by its client", { method: c.method, path: pathOf(req.url) });
      res = new Response(null, { status: CLIENT_CLOSED });
    } else {
      shape.log.error("request failed", { method: c.method, path: pathOf(req.url), err });
      res = fastInternal();
    }
  }
  if (started !== undefined) shape.metrics!.observeAfterAnswer(c.method, c.label, res.status, started);
  // As the index-header middleware marks every GET answer of the route table that has none: its refusals
  // (a bad ?index, another ?dc, the read gate's 503) too, which the GET fast paths answered without it.
  if (arrived !== undefined && !res.headers.has("x-corral-index")) res = withHeader(res, "x-corral-index", String(Math.max(arrived, 0)));
  // As the inert-answers middleware marks every answer of the route table (no fast path serves /v1/invoke/).
  return inert(res, false);
}

/** The answer with one more header: in place when its headers are mutable, else a copy. */
function withHeader(res: Response, name: string, value: string): Response {
  try {
    res.headers.set(name, value);
    return res;
  } catch {
    const out = new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
    out.headers.set(name, value);
    return out;
  }
}

/**
 * A body whose signature failed once read: the same bytes to the route
 * table, which refuses (401) and audits it. The Bun server knows the
 * client's address only for the request it received, so requestIP answers
 * for the original.
 */
function refuseByRoute(route: Fetch, original: Request, env: unknown, body: Uint8Array): Response | Promise<Response> {
  const server = env as { requestIP?: (r: Request) => unknown } | undefined;
  const wrapped = server?.requestIP ? { requestIP: () => server.requestIP!(original) } : env;
  return route(new Request(original.url, { method: original.method, headers: original.headers, body }), wrapped);
}
