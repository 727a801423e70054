// The heartbeat fast path. Every agent heartbeats every few seconds, so at
// thousands of agents POST /v1/cluster/heartbeat is most of what a leader
// serves (bench/heartbeats.ts: 5,000 agents once a second). On the active
// leader this handler answers it before the route table: the same checks
// (body size, HMAC signature, HeartbeatRequest schema) and the same
// Membership.heartbeat, without hono's context, middleware chain and
// validator per request. What it skips is what a heartbeat does not need:
// the X-Corral-Index header and the request metrics middleware (heartbeats
// are counted by corral_cluster_heartbeats_total instead, see below).
// Anything else (another path, a follower, a malformed request) goes to the
// route table unchanged, whose /v1/cluster/heartbeat route stays the
// reference (and the OpenAPI entry). So does every request whose signature
// header fails before the body is read, and one whose MAC fails after: the
// route table refuses it (401) and the audit log records it.
import type { Counter } from "prom-client";
import { SIGNATURE_HEADER, type RpcVerifier } from "../http/middleware/cluster-auth.ts";
import { ApiError } from "../http/errors.ts";
import { fastError, fastInternal, fastInvalidInput, fastJson, fastMalformedJson } from "../http/fast-reply.ts";
import { pathAndQueryOf, pathOf } from "../http/path-of.ts";
import type { Membership } from "./membership.ts";
import { HeartbeatRequest } from "./protocol.ts";

export const HEARTBEAT_PATH = "/v1/cluster/heartbeat";

export interface FastPathDeps {
  verifier: RpcVerifier;
  membership: Membership;
  isLeader(): boolean;
  maxBodyBytes: number;
  /** Counts heartbeats answered here. */
  counter?: Pick<Counter, "inc">;
  /** The route table: refusals go there, to be answered and audited as any request. */
  fallback: (req: Request, env: unknown, original: Request) => Response | Promise<Response>;
}


/** A fetch handler that answers heartbeats on the leader and returns undefined for everything else. */
export function heartbeatFastPath(d: FastPathDeps): (req: Request, env?: unknown) => Promise<Response> | undefined {
  return (req, env) => {
    if (req.method !== "POST" || pathOf(req.url) !== HEARTBEAT_PATH || !d.isLeader()) return undefined;
    const length = Number(req.headers.get("content-length") ?? NaN);
    if (!Number.isFinite(length) || length > d.maxBodyBytes) return undefined; // the route table's body limit decides
    // Header, MAC, freshness and nonce before the body, and the signed length
    // must be the declared one: anything else goes to the route table unread.
    const pre = d.verifier.precheck(req.headers.get(SIGNATURE_HEADER), "POST", pathAndQueryOf(req.url), req.headers.get("host"));
    // (A v1 signature, legacy mode, announces no length: the content-length bound above is its cap.)
    if (!pre.ok || (pre.header.length !== undefined && pre.header.length !== length)) return undefined;
    return answer(d, req, env);
  };
}

async function answer(d: FastPathDeps, req: Request, env: unknown): Promise<Response> {
  const body = new Uint8Array(await req.arrayBuffer());
  if (!d.verifier.verify(req.headers.get(SIGNATURE_HEADER), "POST", pathAndQueryOf(req.url), req.headers.get("host"), body).ok) {
    // Same bytes to the route table, which refuses (401) and audits.
    return d.fallback(new Request(req.url, { method: "POST", headers: req.headers, body }), env, req);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return fastMalformedJson();
  }
  const hb = HeartbeatRequest.safeParse(parsed);
  if (!hb.success) return fastInvalidInput(hb.error.issues[0]);
  try {
    const out = await d.membership.heartbeat(hb.data);
    d.counter?.inc();
    return fastJson(200, out);
  } catch (err) {
    // Clipped and with its headers, as the route table answers it.
    if (err instanceof ApiError) return fastError(err);
    return fastInternal();
  }
}
