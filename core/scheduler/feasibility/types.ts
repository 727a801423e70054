import type { GroupAsk } from "../ask.ts";
import type { SchedNode } from "../cluster-index.ts";
import type { EvalContext } from "../eval-context.ts";

/** One yes/no question about one node: true, or the reason it says no. */
export type FeasibilityCheck = (node: SchedNode, ask: GroupAsk, ctx: EvalContext) => true | string;
