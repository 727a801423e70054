import { portInUse, portsHeldInRange } from "../eval-context.ts";
import type { FeasibilityCheck } from "./types.ts";

/** Static ports must be free on the node; dynamic ones need enough room left in the dynamic range. */
export const portsFree: FeasibilityCheck = (node, ask, ctx) => {
  for (const p of ask.staticPorts) {
    if (portInUse(ctx, node, p)) return `static port ${p} in use`;
  }
  if (ask.dynamicPorts === 0) return true;
  const { min, max } = ctx.opts.portRange;
  const size = max - min + 1;
  // Cheap bound first: fewer ports held in total than the range has room for.
  if (node.ports.size + (ctx.delta.get(node.pos)?.ports.size ?? 0) + ask.dynamicPorts <= size) return true;
  return portsHeldInRange(ctx, node, min, max) + ask.dynamicPorts <= size ? true : "dynamic port range exhausted";
};
