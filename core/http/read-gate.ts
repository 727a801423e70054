// Consistency modes for reads of replicated state (Consul's): by default a
// follower hands the request to the leader, so clients read the leader's
// applied state; ?stale answers from this node's own copy; ?consistent makes
// the leader confirm its leadership with a quorum round first (read index).
import type { Handler } from "./routes.ts";
import { ApiError } from "./errors.ts";
import { FORWARDED_HEADER, proxyRequest } from "./proxy.ts";

export interface ReadGateDeps {
  status(): { isLeader: boolean; leader: string | undefined };
  readBarrier(): Promise<void>;
  scheme?: string;
  /** The peer fetch (TLS, core/http/tls.ts). */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

export function readGate(deps: ReadGateDeps): (handler: Handler) => Handler {
  return (handler) => async (c) => {
    const q = new URL(c.req.url).searchParams;
    if (q.has("stale")) return handler(c);
    const st = deps.status();
    if (!st.isLeader) {
      // A request some node already forwarded is answered here, never bounced again.
      if (c.req.header(FORWARDED_HEADER)) return handler(c);
      if (!st.leader) throw new ApiError(503, "NO_LEADER", "no leader elected; retry, or read with ?stale");
      return proxyRequest(`${deps.scheme ?? "http"}://${st.leader}`, c.req.raw, undefined, undefined, deps.fetch);
    }
    if (q.has("consistent")) await deps.readBarrier();
    return handler(c);
  };
}
