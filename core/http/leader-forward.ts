// An agent's forward of a client's request to its leaders, for the routes
// that declare `leader: "forward"` or `"read"` (core/http/leader-routing.ts),
// and the one place where its failures, and those of a write proposed
// through a leader (proposeFailed), become answers.
//
// The request is marked as a client's read: the leader authorizes it again
// with the client's token and cuts the answer to it (core/acl/read-scope.ts).
//
// Failures (no leader answered): 503, or 504 for a write that may have
// reached one, with the write's outcome in X-Corral-Outcome (Consul's short
// text on Consul-compatible paths). The discovery and authz plugins' Consul
// routes keep Consul's own answer, 500 "No cluster leader" (docs/security.md),
// and a client that hung up gets 499 there.
import type { Context } from "hono";
import { ApiError, consulError, OUTCOME_HEADER, replicationApiError } from "./errors.ts";
import { ReplicationError } from "../state/replicator.ts";
import { isConsulPath } from "./consul-paths.ts";
import { attemptFailed, RpcError } from "../cluster/leader-client.ts";
import { asClientRead } from "../acl/read-scope.ts";
import type { RouteEntry } from "./routes.ts";

/** Sends a signed request to a leader; rejects with an RpcError when none answers. */
export type LeaderSend = (req: Request) => Promise<Response>;

export function leaderForward(send: LeaderSend): (req: Request, c: Context, entry: RouteEntry) => Promise<Response> {
  return async (req, c, entry) => {
    try {
      return await send(asClientRead(req));
    } catch (err) {
      const answer = forwardFailed(req, c, entry, err);
      if (answer instanceof Response) return answer;
      throw answer;
    }
  };
}

/** The one mapping of a failed forward to an answer (thrown; a Response is the 499 of a plugin's route). */
export function forwardFailed(req: Request, c: Context, entry: RouteEntry, err: unknown): unknown {
  if (entry.owner !== "core") {
    if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
    return consulError(500, `No cluster leader (${String((err as Error)?.message ?? err).slice(0, 120)})`);
  }
  return agentForwardFailed(req, err);
}

/**
 * An agent's forward that no leader answered: 503, or 504 for a write that
 * may have reached one (Consul's short text on Consul-compatible routes),
 * with the write's outcome.
 */
export function agentForwardFailed(req: Request, err: unknown): unknown {
  if (!(err instanceof RpcError)) return err; // the client went away
  const write = req.method !== "GET" && req.method !== "HEAD";
  const headers: Record<string, string> = write && err.outcome ? { [OUTCOME_HEADER]: err.outcome } : {};
  const status = err.status === 504 ? 504 : 503;
  return new ApiError(status, err.code, err.message, headers, isConsulPath(new URL(req.url).pathname) ? "text" : "json");
}

/**
 * A leader-role follower's pass of a request on to the Raft leader
 * (core/http/raft-leader.ts) that got no answer: the leader client's reading
 * of the failure (attemptFailed), answered as an agent's forward is: 503 when
 * nothing was sent, 504 when a write may have arrived (outcome unknown).
 * Never a 500. A client that went away is rethrown.
 */
export function passOnFailed(req: Request, leader: string, err: unknown): unknown {
  if (req.signal.aborted) return err;
  return agentForwardFailed(req, attemptFailed(leader, err));
}

/**
 * The one mapping of a failed write to an answer. This node's replicator
 * refused it (a ReplicationError: 503 NOT_LEADER, 504 TIMEOUT...), or a
 * leader reached through the leader client (core/cluster/leader-client.ts,
 * an agent's or a follower's proposal) did: the leader's refusal keeps its
 * status (503 when it had none) and outcome; a write that reached no leader
 * is 503 and certainly not applied when no connection was ever made, else
 * 504 with an unknown outcome. Never a 500: a dead leader is not an internal
 * error. Anything else is rethrown.
 */
export function proposeFailed(err: unknown): unknown {
  if (err instanceof ReplicationError) return replicationApiError(err);
  if (!(err instanceof RpcError)) return err;
  return new ApiError((err.status >= 400 ? err.status : 503) as 503, err.code, err.message, err.outcome ? { [OUTCOME_HEADER]: err.outcome } : {});
}
