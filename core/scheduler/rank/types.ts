import type { GroupAsk } from "../ask.ts";
import type { SchedNode } from "../clusterIndex.ts";
import type { EvalContext } from "../evalContext.ts";

/** One scoring idea: how good `node` is for `ask`, in [0, 1] (1 best). */
export type Ranker = (node: SchedNode, ask: GroupAsk, ctx: EvalContext) => number;
