// Consistency modes for reads of replicated state (Consul's three, see
// docs/operations.md):
//   ?stale       answered by this node from its own copy, whatever its role;
//   default      the leader answers from its state while its lease holds
//                (core/cluster/raft/lease.ts), else after a read-index round;
//   ?consistent  the leader answers after a read-index round (thesis §6.4).
// A node that is not the leader never answers the last two from its own
// state: it passes the request, signed, to the leader it knows, at most
// MAX_FORWARD_HOPS nodes deep, or answers 503. Before issue 23 a request
// carrying X-Corral-Forwarded (which any client can set) was answered from
// the local copy, so a lagging ex-leader or a restarted follower served
// `?consistent` reads with overwritten values.
import type { Context } from "hono";
import type { Handler } from "./routes.ts";
import { ApiError, replicationApiError } from "./errors.ts";
import { isConsulPath } from "./consul-paths.ts";
import { proxyRequest } from "./proxy.ts";
import type { NodeKey } from "./rpc-signature.ts";
import { asClientRead } from "../acl/read-scope.ts";
import { ReplicationError } from "../state/replicator.ts";
import { forwardedHops, MAX_FORWARD_HOPS } from "./peer-forwarding.ts";

export interface ReadGateDeps {
  status(): { isLeader: boolean; leader: string | undefined };
  /** ?consistent on the leader: a read-index round, then until applied. Rejects with a ReplicationError. */
  readBarrier(): Promise<void>;
  /** Default mode on the leader: nothing while the lease holds, else a read-index round. Rejects with a ReplicationError. */
  leaseBarrier(): Promise<void>;
  /** This node's signing key: a forwarded read is signed, so the leader can tell it came from a node. */
  key: NodeKey;
  scheme?: string;
  /** The peer fetch (TLS, core/http/tls.ts). */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

export function readGate(deps: ReadGateDeps): (handler: Handler) => Handler {
  return (handler) => async (c) => {
    const q = new URL(c.req.url).searchParams;
    if (q.has("stale")) return handler(c);
    const st = deps.status();
    if (!st.isLeader) return forwardToLeader(c, st.leader, deps);
    try {
      await (q.has("consistent") ? deps.readBarrier() : deps.leaseBarrier());
    } catch (err) {
      throw readRefused(c, err);
    }
    return handler(c);
  };
}

/**
 * The gate's wait on the leader for a request without a hono context (a fast
 * path, which is only taken on the leader: a follower forwards, the route's
 * work): `?consistent` a read-index round, the default mode the lease; the
 * same refusals as the gate (`path` says whether they are Consul's text).
 */
export function leaderReadBarrier(deps: Pick<ReadGateDeps, "readBarrier" | "leaseBarrier">): (consistent: boolean, path: string) => Promise<void> {
  return async (consistent, path) => {
    try {
      await (consistent ? deps.readBarrier() : deps.leaseBarrier());
    } catch (err) {
      throw refusalOf(path, err);
    }
  };
}

/** A follower passes a read to the leader it knows: signed, one hop further, or 503. */
async function forwardToLeader(c: Context, leader: string | undefined, deps: ReadGateDeps): Promise<Response> {
  const hops = forwardedHops(c);
  if (!leader) throw unavailable(c, "NO_LEADER", "no leader elected; retry, or read with ?stale");
  if (hops >= MAX_FORWARD_HOPS) {
    throw unavailable(c, "NO_LEADER", `passed on ${hops} times without reaching the leader (nodes disagree on who leads); retry, or read with ?stale`);
  }
  try {
    // Marked as a client's read: the leader authorizes it again with the client's token and cuts
    // the answer to it (core/acl/read-scope.ts), as it does for an agent's forward.
    return await proxyRequest(`${deps.scheme ?? "http"}://${leader}`, asClientRead(c.req.raw), undefined, deps.key, deps.fetch, hops + 1);
  } catch (err) {
    if (c.req.raw.signal.aborted) throw err;
    // A dead or unreachable leader: a read changes nothing, so this is a plain "retry" (not a 500).
    throw unavailable(c, "LEADER_UNREACHABLE", `leader ${leader} did not answer (${(err as Error).message}); retry, or read with ?stale`);
  }
}

/** The leader could not confirm it still leads (deposed, no quorum, timeout). */
function readRefused(c: Context, err: unknown): ApiError {
  return refusalOf(c.req.path, err);
}

function refusalOf(path: string, err: unknown): ApiError {
  const e = err as { code?: string; message?: string; leader?: string };
  if (err instanceof ApiError) return err;
  if (e?.code === "TIMEOUT") return new ApiError(504, "TIMEOUT", `${e.message}; retry, or read with ?stale`, {}, isConsulPath(path) ? "text" : "json");
  if (e?.code === "NOT_LEADER" || e?.code === "SHUTTING_DOWN") {
    return unavailableAt(path, "NOT_LEADER", `${e.message}${e.leader ? ` (leader: ${e.leader})` : ""}; retry`);
  }
  // Any other refusal of the replicator (STORAGE_FAILED: this node stopped) keeps its status.
  if (err instanceof ReplicationError) return replicationApiError(err);
  throw err;
}

/** 503 with a JSON body, or Consul's short text on Consul-compatible routes. */
function unavailable(c: Context, code: string, message: string): ApiError {
  return unavailableAt(c.req.path, code, message);
}

function unavailableAt(path: string, code: string, message: string): ApiError {
  return new ApiError(503, code, message, { "Retry-After": "1" }, isConsulPath(path) ? "text" : "json");
}
