import type { GroupAsk } from "../ask.ts";
import type { SchedNode } from "../clusterIndex.ts";
import type { EvalContext } from "../evalContext.ts";

/** One yes/no question about one node: true, or the reason it says no. */
export type FeasibilityCheck = (node: SchedNode, ask: GroupAsk, ctx: EvalContext) => true | string;
