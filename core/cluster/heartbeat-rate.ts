// How often agents should heartbeat, and when a silent one is down, as the
// cluster grows (pure). Nomad's rule: the leader hands every agent an
// interval long enough that all of them together stay under a fixed rate
// (max_heartbeats_per_second), so a 10,000-node cluster costs the leader
// what a small one at that rate does. An agent beats at that interval or its
// own agent.heartbeat, whichever is longer (the leader does not know the
// agents' own settings, and small clusters keep them). Detection time grows
// with it: a node is down once it has been silent for node_ttl or three of
// the intervals it was told, whichever is longer (one lost beat or a slow
// leader is not a death).

/** The interval to ask of every agent when `nodes` are registered (0: nothing to ask). */
export function heartbeatIntervalMs(nodes: number, maxPerSecond: number): number {
  return Math.ceil((Math.max(0, nodes) / Math.max(1, maxPerSecond)) * 1000);
}

/** How long a node may stay silent before it is marked down, given the interval it was told. */
export function downAfterMs(nodeTtlMs: number, toldIntervalMs: number): number {
  return Math.max(nodeTtlMs, 3 * toldIntervalMs);
}
