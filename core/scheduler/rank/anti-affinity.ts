import { groupState } from "../eval-context.ts";
import type { Ranker } from "./types.ts";

/**
 * Job anti-affinity: each allocation of the same group already on the node
 * costs 1/count, so a group of 3 strongly prefers three nodes while a group
 * of 500 barely minds doubling up (Nomad's JobAntiAffinityIterator penalty).
 */
export const antiAffinity: Ranker = (node, ask, ctx) => {
  const collisions = groupState(ctx, ask.group).onNode.get(node.pos) ?? 0;
  if (collisions === 0) return 1;
  return Math.max(0, 1 - collisions / Math.max(1, ask.count));
};
