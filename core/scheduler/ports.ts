// Host port assignment for one placement. Static ports were checked free by
// the ports feasibility check; dynamic ones are drawn at random from the range
// (seeded, so replayable), falling back to a scan when the node is crowded.

import type { GroupAsk } from "./ask.ts";
import type { SchedNode } from "./cluster-index.ts";
import { portInUse, type EvalContext } from "./eval-context.ts";
import { randomInt } from "./rng.ts";
import type { PortAssignment } from "./types.ts";

/** Random draws before falling back to a linear scan (Nomad tries random ports first too). */
export const RANDOM_PORT_TRIES = 20;

export function assignPorts(ctx: EvalContext, node: SchedNode, ask: GroupAsk): PortAssignment[] | null {
  const out: PortAssignment[] = [];
  const taken = new Set<number>();
  for (const p of ask.ports) {
    if (p.static === undefined) continue;
    taken.add(p.static);
    out.push({ task: p.task, label: p.label, value: p.static, static: true });
  }
  for (const p of ask.ports) {
    if (p.static !== undefined) continue;
    const value = pickDynamicPort(ctx, node, taken);
    if (value === null) return null;
    taken.add(value);
    out.push({ task: p.task, label: p.label, value, static: false });
  }
  return out;
}

function pickDynamicPort(ctx: EvalContext, node: SchedNode, taken: Set<number>): number | null {
  const { min, max } = ctx.opts.portRange;
  const size = max - min + 1;
  if (size <= 0) return null;
  const free = (p: number) => !taken.has(p) && !portInUse(ctx, node, p);
  for (let i = 0; i < RANDOM_PORT_TRIES; i++) {
    const p = min + randomInt(ctx.rng, size);
    if (free(p)) return p;
  }
  const start = randomInt(ctx.rng, size);
  for (let k = 0; k < size; k++) {
    const p = min + ((start + k) % size);
    if (free(p)) return p;
  }
  return null;
}
