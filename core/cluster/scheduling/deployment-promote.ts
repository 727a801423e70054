// auto_promote, pure part: which running deployments the leader's watcher
// promotes now. A deployment is promoted when every group still waiting on
// canaries asked for auto_promote and all its canaries are healthy (as
// Nomad: one group without auto_promote keeps the whole deployment waiting
// for `corral deployment promote`).
import type { AllocRow, DeploymentRow } from "../../store/schema-jobs.ts";
import { unpromotable } from "../../state/domains/deployments.ts";

export function autoPromotions(running: readonly DeploymentRow[], allocOf: (id: string) => AllocRow | undefined): DeploymentRow[] {
  return running.filter((d) => {
    const waiting = Object.entries(d.groups).filter(([, g]) => (g.desiredCanaries ?? 0) > 0 && !g.promoted);
    return waiting.length > 0 && waiting.every(([name, g]) => g.autoPromote === true && unpromotable(name, g, allocOf) === null);
  });
}
