import { freeCpuMhz, freeMemoryMb } from "../eval-context.ts";
import type { FeasibilityCheck } from "./types.ts";

/** Free = capacity − reserved − placed (snapshot + this plan). Named by the first dimension that runs out. */
export const resourcesFit: FeasibilityCheck = (node, ask, ctx) => {
  if (freeCpuMhz(ctx, node) < ask.resources.cpuMhz) return "cpu exhausted";
  if (freeMemoryMb(ctx, node) < ask.resources.memoryMb) return "memory exhausted";
  return true;
};
