import { groupState } from "../eval-context.ts";
import type { FeasibilityCheck } from "./types.ts";

/**
 * Every job and group constraint must hold. Constraints read only the node's
 * attributes, which do not change inside an evaluation, so each node's verdict
 * is cached per group (Nomad caches per computed node class for the same reason).
 */
export const constraintsMatch: FeasibilityCheck = (node, ask, ctx) => {
  if (ask.constraints.length === 0) return true;
  const cache = groupState(ctx, ask.group).constraintVerdicts;
  const hit = cache[node.pos];
  if (hit !== undefined) return hit;
  let verdict: true | string = true;
  for (const c of ask.constraints) {
    if (!c.test(node.view)) {
      verdict = c.text;
      break;
    }
  }
  cache[node.pos] = verdict;
  return verdict;
};
