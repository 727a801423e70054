// The heartbeat fast path, declared on the POST /v1/cluster/heartbeat route
// (core/api/cluster.ts) through the route table's one mechanism
// (core/http/fast-route.ts). Every agent heartbeats every few seconds, so at
// thousands of agents this is most of what a leader serves
// (bench/heartbeats.ts: 5,000 agents once a second). On the active leader it
// is answered before hono: the route table checks the route's signature, body
// cap and HeartbeatRequest schema as the route's middlewares would, and this
// calls the same Membership.heartbeat. What it skips is what a heartbeat does
// not need: the X-Corral-Index header and the request metrics (heartbeats are
// counted by corral_cluster_heartbeats_total instead). A follower's
// heartbeats go to the route, which passes them on to the leader.
import type { Counter } from "prom-client";
import { fastJson } from "../http/fast-reply.ts";
import { fastRoute } from "../http/fast-route.ts";
import type { Membership } from "./membership.ts";
import type { HeartbeatRequest } from "./protocol.ts";

export interface HeartbeatFastDeps {
  membership: Pick<Membership, "heartbeat">;
  isLeader(): boolean;
  /** Counts heartbeats answered (the route counts its own in the same counter). */
  counter?: Pick<Counter, "inc">;
}

export function heartbeatFast(d: HeartbeatFastDeps) {
  return fastRoute({
    takes: () => d.isLeader() || undefined,
    json: true,
    answer: async ({ data }) => {
      const out = await d.membership.heartbeat(data as HeartbeatRequest);
      d.counter?.inc();
      return fastJson(200, out);
    },
  });
}
