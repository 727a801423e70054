// The KV write fast path. A plain `PUT /v1/kv/<key>` (no query, a body of
// known length) is the hot client write: bench/raft.ts measured ~50 µs of
// leader CPU per write in hono's context, middleware chain and validators,
// a third of the leader's whole share of a replicated write. This answers
// it before the route table, the same way: same key and size rules, the
// same KVSet command through the same propose, the same `true` and the same
// error bodies, counted in the same request metrics. Only while nothing
// else would act on the request (no ACLs, audit or rate limits, see
// Security.open); anything else (a query: cas, flags, dc, token...; an
// encoded or overlong key; no Content-Length) goes to the route in
// core/api/kv.ts, which stays the reference and the OpenAPI entry.
//
// The lock writes of Consul's lock recipe take the same path: a query of
// exactly one `acquire=<session>` or `release=<session>` (a session id's
// characters only) is written by the node's one LockWriter
// (core/api/kv-lock-write.ts), the very function the route calls. With 16
// contenders on a lock each hand-over brings 15 acquires that are refused
// (bench/locks.ts), and hono's chain was most of their cost.
import type { Logger } from "../log.ts";
import type { Command } from "../state/commands.ts";
import { MAX_KV_VALUE_BYTES } from "../state/domains/kv.ts";
import { fastError, fastInternal, fastJson } from "../http/fast-reply.ts";
import { pathOf } from "../http/path-of.ts";
import { ApiError } from "../http/errors.ts";
import type { HttpMetrics } from "../http/middleware/http-metrics.ts";
import { MAX_KEY_CHARS } from "./kv.ts";
import type { LockWriter } from "./kv-lock-write.ts";

const PREFIX = "/v1/kv/";
/** The route's label in corral_http_requests_total (routePattern of /v1/kv/:key{.*}). */
const ROUTE = "/v1/kv/{key}";

export interface KvFastPathDeps {
  propose(cmd: Command): Promise<{ result: { ok: boolean; value?: unknown } }>;
  /** Security.open: no ACL, audit or rate limit would look at this request. */
  open(): boolean;
  /** http.max_body_bytes (the route's body limit). */
  maxBodyBytes: number;
  metrics: HttpMetrics;
  log: Logger;
  /** The node's lock writer (the route's): with it, `?acquire=`/`?release=` writes are answered here too. */
  locks?: LockWriter;
}

/** The one query a lock write may carry here: acquire or release, a session id's characters (anything else: the route). */
const LOCK_QUERY = /^(acquire|release)=([A-Za-z0-9-]{1,64})$/;

// Answers as the route table would (core/http/fast-reply.ts).
const json = fastJson;
const errorResponse = fastError;

/** A fetch handler that answers plain KV writes and returns undefined for everything else. */
export function kvFastPath(d: KvFastPathDeps): (req: Request) => Promise<Response> | undefined {
  const maxBytes = Math.min(d.maxBodyBytes, MAX_KV_VALUE_BYTES);
  return (req) => {
    if (req.method !== "PUT") return undefined;
    const url = req.url;
    const q = url.indexOf("?");
    let lock: { op: "acquire" | "release"; session: string } | undefined;
    if (q !== -1) {
      const m = d.locks ? LOCK_QUERY.exec(url.slice(q + 1)) : null;
      if (!m) return undefined;
      lock = { op: m[1] as "acquire" | "release", session: m[2]! };
    }
    const path = pathOf(url);
    if (!path.startsWith(PREFIX)) return undefined;
    // Percent-encoded keys go to the route: hono's decoding is the reference.
    const key = path.slice(PREFIX.length);
    if (key === "" || key.length > MAX_KEY_CHARS || key.includes("%")) return undefined;
    const length = Number(req.headers.get("content-length") ?? NaN);
    if (!Number.isFinite(length) || length > maxBytes || !d.open()) return undefined;
    return answer(d, req, key, lock);
  };
}

async function answer(d: KvFastPathDeps, req: Request, key: string, lock?: { op: "acquire" | "release"; session: string }): Promise<Response> {
  const started = d.metrics.now();
  let res: Response;
  try {
    const value = Buffer.from(await req.arrayBuffer()).toString("base64");
    if (lock) res = json(200, await d.locks!({ key, value, flags: 0, [lock.op]: lock.session, signal: req.signal }));
    else {
      const out = await d.propose({ type: "KVSet", v: 1, at: Date.now(), key, value, flags: 0, cas: undefined });
      res = json(200, out.result.ok ? out.result.value === true : false);
    }
  } catch (err) {
    if (err instanceof ApiError) res = errorResponse(err);
    else {
      d.log.error("request failed", { method: "PUT", path: PREFIX + key, err });
      res = fastInternal();
    }
  }
  d.metrics.observe("PUT", ROUTE, res.status, started);
  return res;
}
