// Builds the node's HTTP surface: middlewares in order, one error handler,
// JSON 404s, and the route table that core and plugins add to.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../log.ts";
import { ApiError, CLIENT_CLOSED } from "./errors.ts";
import { knownApiError } from "./known-error.ts";
import { RouteTable, type AppShape } from "./routes.ts";
import { bodyLimit } from "./middleware/body-limit.ts";
import { indexHeader } from "./middleware/index-header.ts";
import { clusterAuth, type RpcVerifier } from "./middleware/cluster-auth.ts";
import { PEER_PREFIXES, STREAMED_PREFIXES } from "./peer-paths.ts";
import { bodyType } from "./middleware/body-type.ts";
import { inertAnswers } from "./middleware/inert-answers.ts";
import type { FastShape } from "./fast-dispatch.ts";

/** Routes that take a body as bytes and never parse it (a KV value, a proxied call): any Content-Type. */
export const RAW_BODY_PREFIXES = ["/v1/kv/", ...STREAMED_PREFIXES];
/** Answers that come from services, not from corral: sandboxed whatever policy they carry (inert-answers.ts). */
export const PROXIED_PREFIXES = ["/v1/invoke/"];

export interface AppOptions {
  log: Logger;
  version: string;
  maxBodyBytes: number;
  /** Checks node signatures (one per process: its nonce memory is shared). */
  verifier: RpcVerifier;
  appliedIndex: () => number;
  /** Extra middlewares (ACLs), run after the built-in ones. */
  extra?: import("hono").MiddlewareHandler[];
  /** Middlewares run before the built-in ones (request metrics, audit: refused requests count too). */
  outer?: import("hono").MiddlewareHandler[];
  /** Largest Raft peer message (InstallSnapshot). */
  maxPeerMessageBytes?: number;
  stateRead?: AppShape["stateRead"];
  /** An agent's forward of "forward" and "read" routes to its leaders (core/http/leader-forward.ts). */
  forward?: AppShape["forward"];
  raftLeader?: AppShape["raftLeader"];
  /** Per-route middleware (ACL enforcement, core/acl/enforce.ts). */
  routeMiddleware?: AppShape["routeMiddleware"];
  /**
   * Routes' fast paths run before hono (core/http/fast-route.ts) when given:
   * `open` is Security.open, `metrics` the request metrics of the `outer` middleware.
   */
  fast?: Pick<FastShape, "open" | "metrics" | "held" | "leaderRead">;
}

/** Longest error message sent back (the fuzzer found 6 KB IDs echoed in Consul's texts). */
export const MAX_ERROR_CHARS = 512;

export function errorBody(code: string, message: string) {
  return { error: message, code };
}

/**
 * What an ApiError answers: its message as plain text or in an errorBody,
 * clipped to MAX_ERROR_CHARS (messages may quote what the client sent, an ID
 * or a key: never echo more than a line of it back). Status and headers are
 * the error's own; the route table's onError and the fast paths
 * (core/http/fast-reply.ts) both answer with this.
 */
export function apiErrorReply(err: ApiError): { text: string } | { json: ReturnType<typeof errorBody> } {
  const message = err.message.length > MAX_ERROR_CHARS ? err.message.slice(0, MAX_ERROR_CHARS - 3) + "..." : err.message;
  return err.format === "text" ? { text: message } : { json: errorBody(err.code, message) };
}

export function createRouteTable(opts: AppOptions): RouteTable {
  const onError = (err: Error, c: Context): Response => {
    const known = knownApiError(err);
    if (known) {
      for (const [k, v] of Object.entries(known.headers)) c.header(k, v);
      const reply = apiErrorReply(known);
      return "text" in reply ? c.text(reply.text, known.status) : c.json(reply.json, known.status);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? "BODY_TOO_LARGE" : status === 401 ? "UNAUTHORIZED" : "BAD_REQUEST";
      return c.json(errorBody(code, err.message || "bad request"), status);
    }
    // The client went away (it gave up on a forward or a wait): nobody reads this answer and nothing
    // failed here. Counted as nginx does (499), logged at debug: an overloaded leader's callers give up
    // by the thousand, and each was an error line.
    if (c.req.raw.signal.aborted) {
      opts.log.debug("request abandoned by its client", { method: c.req.method, path: c.req.path });
      return new Response(null, { status: CLIENT_CLOSED });
    }
    opts.log.error("request failed", { method: c.req.method, path: c.req.path, err });
    return c.json(errorBody("INTERNAL", "internal error"), 500);
  };

  // A snapshot for a lagging follower travels as one Raft message.
  const overrides = [{ prefix: "/v1/raft/", maxBytes: opts.maxPeerMessageBytes ?? 64 * 1024 * 1024 }];
  // The cap the middlewares below put on a path: the fast paths take no more.
  const bodyCap = (path: string) => overrides.find((o) => path.startsWith(o.prefix))?.maxBytes ?? opts.maxBodyBytes;

  return new RouteTable({
    title: "corral",
    version: opts.version,
    middlewares: [
      ...(opts.outer ?? []),
      inertAnswers({ proxied: PROXIED_PREFIXES }),
      clusterAuth({
        verifier: opts.verifier, prefixes: PEER_PREFIXES, maxBodyBytes: opts.maxBodyBytes, overrides,
      }),
      bodyLimit({ maxBytes: opts.maxBodyBytes, streamed: STREAMED_PREFIXES, capturedBy: PEER_PREFIXES }),
      bodyType({ raw: RAW_BODY_PREFIXES, exempt: PEER_PREFIXES }),
      indexHeader({ appliedIndex: opts.appliedIndex }),
      ...(opts.extra ?? []),
    ],
    onError,
    notFound: (c) => c.json(errorBody("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`), 404),
    invalidInput: (message, c) => c.json(errorBody("INVALID_INPUT", message), 400),
    stateRead: opts.stateRead,
    forward: opts.forward,
    raftLeader: opts.raftLeader,
    routeMiddleware: opts.routeMiddleware,
    fast: opts.fast && { ...opts.fast, verifier: opts.verifier, signedPrefixes: PEER_PREFIXES, bodyCap, appliedIndex: opts.appliedIndex, log: opts.log },
  });
}
