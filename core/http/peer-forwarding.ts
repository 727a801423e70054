// Requests one corral node passes to another (a follower to the leader, an
// agent to a leader) say how many nodes already passed them on in
// X-Corral-Forwarded. The count is believed only on a request carrying a
// valid node signature: any client can set the header, and before issue 23 a
// follower answered any request that had it from its own, possibly stale,
// state. Now the count does one thing: it stops forwarding loops between
// nodes that disagree about who leads. A node that is not the leader never
// answers a read from its own state because of it.
import type { Context } from "hono";
import { isNodeSigned } from "../acl/node-signature.ts";
import { FORWARDED_HEADER } from "./proxy.ts";

/**
 * Most nodes a request may cross before the last one answers 503: an agent
 * passes it to a follower (1), the follower to who it thinks leads (2), a
 * deposed leader to the new one (3).
 */
export const MAX_FORWARD_HOPS = 3;

/**
 * How many nodes passed this request on before it reached us: 0 for a client's
 * own request (the header is ignored unless signed), MAX_FORWARD_HOPS for a
 * signed request whose count is not a positive integer.
 */
export function forwardedHops(c: Context): number {
  if (!isNodeSigned(c)) return 0;
  const raw = c.req.header(FORWARDED_HEADER);
  if (raw === undefined) return 0;
  const n = /^\d{1,3}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_FORWARD_HOPS) : MAX_FORWARD_HOPS;
}
