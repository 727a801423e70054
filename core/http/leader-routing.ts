// Leader routing, declared per route (issue 19, point 3). A route says how it
// reaches the leader and the route table applies it, as it applies the ACL
// middleware: no handler forwards by hand, so a new route cannot forget to.
//
//   "forward"  an agent (no replicated state) hands the request, as is, to a
//              leader; a leader-role node runs the handler (its writes go
//              through propose, which reaches the Raft leader itself).
//   "read"     reads replicated state: an agent hands it to a leader; a
//              leader-role node applies the consistency gate (?stale,
//              default, ?consistent: core/http/read-gate.ts).
//   "local"    answered by the node that received it, whatever its role
//              (its own process, its own files, the peer protocol).
//   "leader"   answered by the Raft leader itself: a leader-role follower
//              passes it on, signed anew (core/http/raft-leader.ts); an
//              agent answers (it refuses: it holds no membership).
//
// The forward happens where the handler would run: after the ACL decision
// and after the route's zod validation, so an agent refuses what it can
// refuse itself and the leader authorizes the request again.
import type { Context } from "hono";
import type { Handler, RouteEntry } from "./routes.ts";

export type LeaderRouting = "forward" | "read" | "local" | "leader";

/** How a node reaches its leader; each part absent when it does not apply to this node's role. */
export interface LeaderShape {
  /** Leader-role nodes: the consistency gate of "read" routes. */
  readGate?: (handler: Handler) => Handler;
  /** Agents: hands a request to a leader (core/http/leader-forward.ts maps its failures). */
  forward?: (req: Request, c: Context, entry: RouteEntry) => Promise<Response>;
  /** Leader-role nodes: passes "leader" routes on to the Raft leader. */
  raftLeader?: (handler: Handler) => Handler;
}

/**
 * The routing a route declared. `stateRead: true` (the older spelling, still
 * open to plugins) is "read": a route that reads replicated state must not
 * answer from an agent's empty copy of it, so an agent hands it to a leader
 * as Nomad's and Consul's client agents do.
 */
export function declaredRouting(e: RouteEntry): LeaderRouting | undefined {
  return e.leader ?? (e.stateRead ? "read" : undefined);
}

/** The handler the route table mounts for `e`. */
export function routeToLeader(e: RouteEntry, shape: LeaderShape): Handler {
  const mode = declaredRouting(e);
  const answer = e.answer;
  if ((mode === "forward" || mode === "read") && shape.forward) {
    const forward = shape.forward;
    return async (c) => {
      // A check or rewrite only this node can make (a second permission, a default from its own config).
      const before = await e.beforeForward?.(c);
      if (before instanceof Response) return before; // refused here, as the leader would
      const res = await forward(before ?? c.req.raw, c, e);
      return answer ? answer(c, res) : res;
    };
  }
  if (mode === "leader" && shape.raftLeader) return shape.raftLeader(e.handler);
  if (mode === "forward" && e.raftLeaderWhen && shape.raftLeader) {
    // Some requests of a "forward" route only the Raft leader can answer as asked (e.raftLeaderWhen).
    const when = e.raftLeaderWhen;
    const here = answer ? async (c: Context) => answer(c, await e.handler(c)) : e.handler;
    const there = shape.raftLeader(here);
    return (c) => (when(c) ? there(c) : here(c));
  }
  // Inside the gate: a follower's gate hands the request on before the handler, and its answer as it came.
  const handler = answer ? async (c: Context) => answer(c, await e.handler(c)) : e.handler;
  return (mode === "read" || e.stateRead) && shape.readGate ? shape.readGate(handler) : handler;
}
