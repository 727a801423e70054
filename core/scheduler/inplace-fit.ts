// Whether a node still suits an allocation kept by an in-place update, pure
// (Nomad's inplaceUpdate re-runs the feasibility of the allocation's own
// node). An in-place update keeps the allocation where it runs; when the new
// job version changed its constraints, the node it runs on may no longer
// qualify, and then the update must be destructive: the allocation is
// replaced by one placed under the new constraints.
//
// Only what the change can affect is checked: the job's and group's
// constraints and the drivers the tasks need. Resources and ports are those
// of the running tasks (an in-place update leaves tasks unchanged), and the
// node's status is the reconciler's (down and draining nodes are handled
// there).
import { compileAsk } from "./ask.ts";
import type { Job, TaskGroup } from "./jobspec/types.ts";
import type { NodeView } from "./types.ts";

/** The first constraint of `group` (in job `job`) that `node` fails, as text, or null when it still fits. */
export function inPlaceMisfit(job: Job, group: TaskGroup, node: NodeView): string | null {
  for (const c of compileAsk(job, group).constraints) if (!c.test(node)) return c.text;
  return null;
}
