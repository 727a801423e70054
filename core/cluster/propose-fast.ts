// The replicated-write fast path, declared on the POST /v1/cluster/propose
// route (core/api/cluster.ts) through the route table's one mechanism
// (core/http/fast-route.ts). Agents send their allocations' status reports
// here (plugins/exec/reporter.ts, through the agent's leader transport), so in
// a placement burst every agent's report crosses hono's context and the whole
// middleware chain (metrics, audit, cluster signature, inert-answer guard,
// body limit and type, index header, node signature, rate limit, held-request
// limit, ACL, the validator): about a seventh of the leader's CPU went to the
// chain for reports, allocation reads and catalog syncs (docs/scale.md).
//
// What the route table checks for it is the route's own: the cluster
// signature (the node's one verifier: MAC, freshness, receiver, the body's
// hash, the nonce spent), the body cap, the JSON Content-Type, the Command
// schema on the same parsed body (JSON.parse, as the route's validator: peer
// RPC bodies have no duplicate-key guard, core/http/json-body.ts RAW_BODY_PATHS),
// the route's error answers. What it skips acts on none of these requests:
// audit records a peer RPC only when its signature or size is refused (those
// go to the route), rate limits exempt peer paths, the ACL middleware lets
// peer routes through, the index header marks GETs only and the held limit
// holds no POST. Any node (leader or follower) takes it: the route is "local",
// d.propose reaches the Raft leader itself.
import { fastJson } from "../http/fast-reply.ts";
import { fastRoute } from "../http/fast-route.ts";
import type { Command } from "../state/commands.ts";
import type { ProposeOutcome } from "../state/replicator.ts";

export interface ProposeFastDeps {
  /** The route's handler's write (CoreApiDeps.propose). */
  propose(cmd: Command): Promise<ProposeOutcome>;
}

export function proposeFast(d: ProposeFastDeps) {
  return fastRoute({
    json: true,
    // Counted in corral_http_requests_total under the route's pattern, as the route counts it.
    metered: true,
    answer: async ({ data }) => fastJson(200, await d.propose(data as Command)),
  });
}
