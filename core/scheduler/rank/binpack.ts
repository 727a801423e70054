import { freeCpuMhz, freeMemoryMb } from "../eval-context.ts";
import type { Ranker } from "./types.ts";

/**
 * Best fit, after Nomad's ScoreFitBinPack ("BestFit v3"): with f the fraction
 * of the node's offered capacity left free once the ask is placed, per
 * dimension, total = 10^f_cpu + 10^f_mem runs from 2 (both full) to 20 (both
 * empty). The exponent makes a nearly-full dimension count for much more than
 * a half-full one, so fuller nodes win and a node is not left with one
 * dimension exhausted and the other idle. Scaled to [0, 1]; the "spread"
 * algorithm inverts it.
 */
export const binpack: Ranker = (node, ask, ctx) => {
  const v = node.view;
  const offeredCpu = v.resources.cpuMhz - v.reserved.cpuMhz;
  const offeredMem = v.resources.memoryMb - v.reserved.memoryMb;
  if (offeredCpu <= 0 || offeredMem <= 0) return 0;
  const freeCpu = clamp01((freeCpuMhz(ctx, node) - ask.resources.cpuMhz) / offeredCpu);
  const freeMem = clamp01((freeMemoryMb(ctx, node) - ask.resources.memoryMb) / offeredMem);
  const total = 10 ** freeCpu + 10 ** freeMem;
  const fit = (20 - total) / 18;
  return ctx.opts.algorithm === "spread" ? 1 - fit : fit;
};

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
