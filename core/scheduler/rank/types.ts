import type { GroupAsk } from "../ask.ts";
import type { SchedNode } from "../cluster-index.ts";
import type { EvalContext } from "../eval-context.ts";

/** One scoring idea: how good `node` is for `ask`, in [0, 1] (1 best). */
export type Ranker = (node: SchedNode, ask: GroupAsk, ctx: EvalContext) => number;
