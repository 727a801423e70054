// The `leader: "leader"` routing (core/http/leader-routing.ts): routes that
// only the Raft leader itself may answer (an agent's join and heartbeats: it
// alone marks nodes down). A leader-role follower passes the request on,
// signed anew by itself: the agent's signature names this follower as its
// receiver, so the leader would refuse it (core/http/rpc-receiver.ts); this
// node has just verified it. A request already passed on (X-Corral-Forwarded,
// which only a signed peer request reaches here with) is answered where it
// lands, so two nodes that disagree on who leads cannot bounce it forever.
import type { Handler } from "./routes.ts";
import { ApiError } from "./errors.ts";
import { FORWARDED_HEADER, proxyRequest } from "./proxy.ts";
import { passOnFailed } from "./leader-forward.ts";
import type { NodeKey } from "./rpc-signature.ts";

export interface RaftLeaderDeps {
  status(): { isLeader: boolean; leader: string | undefined };
  /** This node's signing key. */
  key: NodeKey;
  scheme?: string;
  /** The peer fetch (TLS, core/http/tls.ts). */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

export function raftLeaderGate(deps: RaftLeaderDeps): (handler: Handler) => Handler {
  return (handler) => async (c) => {
    const st = deps.status();
    if (st.isLeader || c.req.header(FORWARDED_HEADER)) return handler(c);
    if (!st.leader) throw new ApiError(503, "NO_LEADER", "no leader elected yet");
    // The body was read (signature check, validation): pass hono's cached copy.
    const body = await c.req.arrayBuffer();
    try {
      return await proxyRequest(`${deps.scheme ?? "http"}://${st.leader}`, c.req.raw, body, deps.key, deps.fetch);
    } catch (err) {
      // A dead leader is not an internal error: 503 (nothing sent) or 504 (outcome unknown), as for any forward.
      throw passOnFailed(c.req.raw, st.leader, err);
    }
  };
}
