// Allocations an in-place update would keep on a node that no longer fits
// the job's new constraints (pure). Nomad re-checks the node of every
// in-place update and makes the update destructive when it fails; here
// those allocations join the evaluation's replacements, so the scheduler
// places each again under the new constraints (on another node) and the
// old one stops. Without a deployment or a rollout budget: a kept
// allocation on a node the job now excludes is wrong at once, like one on a
// node that went down.
import type { Job } from "../../scheduler/index.ts";
import { inPlaceMisfit } from "../../scheduler/inplace-fit.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import type { EvalInput } from "./evaluate.ts";
import { nodeViews } from "./views.ts";

/** Allocation id → why it is replaced, for the live allocations of an older job version whose node fails the current constraints. */
export function inPlaceMisfits(input: Pick<EvalInput, "job" | "jobAllocs" | "nodes" | "drains">, spec: Job, hashes: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  const job = input.job;
  if (!job || job.stop) return out;
  const nodes = new Map(nodeViews(input.nodes, input.drains).map((n) => [n.id, n]));
  for (const a of input.jobAllocs) {
    if (!holdsResources(a) || a.desiredStatus !== "run" || a.jobVersion === job.version) continue;
    const group = spec.groups.find((g) => g.name === a.groupName);
    // Outdated tasks are the rolling update's; a node gone is the reconciler's.
    if (!group || a.groupHash !== hashes.get(group.name)) continue;
    const node = nodes.get(a.nodeId);
    if (!node || node.status !== "ready") continue;
    const why = inPlaceMisfit(spec, group, node);
    if (why !== null) out.set(a.id, `node ${node.name || node.id} no longer satisfies the job: ${why} (in-place update made destructive)`);
  }
  return out;
}
