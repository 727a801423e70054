import { groupState } from "../eval-context.ts";
import type { FeasibilityCheck } from "./types.ts";

/** distinct_hosts: at most one allocation of the job (job-level) or group (group-level) per node. */
export const distinctHosts: FeasibilityCheck = (node, ask, ctx) => {
  if (ask.distinctHosts === "job") {
    return (ctx.jobOnNode.get(node.pos) ?? 0) > 0 ? "distinct_hosts: job already on node" : true;
  }
  if (ask.distinctHosts === "group") {
    return (groupState(ctx, ask.group).onNode.get(node.pos) ?? 0) > 0 ? "distinct_hosts: group already on node" : true;
  }
  return true;
};
