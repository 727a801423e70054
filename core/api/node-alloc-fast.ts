// The agents' allocation watch fast path, declared on the GET
// /v1/node/{id}/allocations route (core/api/allocations.ts) through the route
// table's one mechanism (core/http/fast-route.ts). Every agent holds a blocking
// read of its node's allocations (plugins/exec/source.ts) and asks again after
// each answer: in a placement burst each node is answered several times, and
// each answer crossed hono's context and the whole middleware chain before the
// route's own read (docs/scale.md, "The next bottleneck (after the fourth
// round)"). This answers the agent's plain read before hono, as the route does:
//   - which requests: GET (HEAD, or a GET with a body, goes to the route), a
//     node id the route's own schema accepts, not percent-encoded (hono's
//     decoding is the reference), and a query of only `index` and `wait`, each
//     at most once and within the route's query schema (20 characters). Anything
//     else (`stale`, `consistent`, `token`, a duplicate, an unknown parameter)
//     goes to the route;
//   - ACLs, audit, rate limits: the route table takes this (an unsigned
//     route's) fast path only while none is configured (Security.open): with
//     ACLs on the route's ACL middleware scopes every answer to its token, and
//     a node's own read to its node's rules (core/acl/enforce.ts ownCallScope);
//   - the agent's node signature (`nodeSigned`): checked by the route table as
//     the node-signature middleware checks it, with the node's one verifier
//     (MAC, freshness, receiver, the empty body's hash, the nonce spent); a
//     failing one goes to the route, which treats the request as a client's.
//     A signed read takes no held-request slot, as in the held-limit middleware;
//   - held-request limits: an unsigned blocking read (`?index` > 0) takes the
//     held-limit middleware's slots (one budget), before the read gate as there;
//   - the read gate: taken only on the Raft leader; a follower forwards, the
//     route's work. On the leader the gate's own wait (the lease), its refusals;
//   - parameters: `blockingOf`, the route's parser, after the gate as in the
//     route; the route's own read (`read`: the same blocking query, index and
//     bytes, core/api/node-alloc-answers.ts);
//   - the answer: the route's body and headers (Content-Type, X-Corral-Index of
//     the answer; the dispatcher adds the inert-answer headers and counts it
//     in the request metrics under the route's pattern). A refusal (a bad
//     `?index` or `?wait`, the gate's 503, a held limit's 429) carries
//     X-Corral-Index of the state the request arrived at, added by the
//     dispatcher as the index-header middleware adds it.
import type { ZodType } from "zod";
import { fastRoute } from "../http/fast-route.ts";
import { heldKind } from "../http/middleware/held-limit.ts";
import { remoteOf } from "../http/remote-addr.ts";
import { requestToken } from "../acl/secret.ts";
import type { ReplicationStatus } from "../state/replicator.ts";
import { blockingOf } from "./job-views.ts";
import { plainQuery } from "../http/blocking-read-fast.ts";

export interface NodeAllocFastDeps {
  /** This node's replication status; undefined (an agent) sends every request to the route. */
  status(): ReplicationStatus | undefined;
  /** The route's path parameters schema ({ id }): an id it refuses goes to the route, which answers why. */
  params: ZodType;
  /** The route's read with every job visible: its index and its body. */
  read(nodeId: string, index: number, waitMs: number, signal: AbortSignal): Promise<{ index: number; body: string }>;
}

interface Taken {
  nodeId: string;
  query: URLSearchParams;
}

/** The parameters an agent's read sends; the route's query schema caps each at 20 characters. */
const AGENT_PARAMS = new Set(["index", "wait"]);
const MAX_VALUE = 20;

export function nodeAllocFast(d: NodeAllocFastDeps) {
  return fastRoute<Taken>({
    metered: true,
    nodeSigned: true,
    takes: (req, rest) => {
      if (rest.includes("%") || !d.params.safeParse({ id: rest }).success) return undefined;
      // Only `index` and `wait`, each once and within the route's schema.
      const query = plainQuery(req.url, AGENT_PARAMS, MAX_VALUE);
      if (!query) return undefined;
      // Not the leader (or not a leader-role node): the route forwards.
      if (!d.status()?.isLeader) return undefined;
      return { nodeId: rest, query };
    },
    answer: async ({ req, env, taken: { nodeId, query }, held, leaderRead, signedBy }) => {
      const path = `/v1/node/${nodeId}/allocations`;
      let slot: (() => void) | undefined;
      try {
        // The held-limit middleware's slot, for a client's blocking read only (a signed one holds none).
        if (signedBy === undefined && heldKind("GET", path, query) === "blocking") {
          slot = held?.hold("blocking", requestToken(req.url, (n) => req.headers.get(n) ?? undefined), remoteOf(req, env), path);
        }
        if (!leaderRead) throw new Error(`a blocking read fast path without the read gate: ${path}`);
        await leaderRead(false, path);
        const { index, waitMs } = blockingOf(query);
        const out = await d.read(nodeId, index, waitMs, req.signal);
        return new Response(out.body, { status: 200, headers: { "content-type": "application/json", "x-corral-index": String(out.index) } });
      } finally {
        slot?.();
      }
    },
  });
}
