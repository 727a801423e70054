// Counting allocations into their deployment's groups (placed, canaries,
// healthy, unhealthy), one read and one write per deployment per entry.
// A plan of 100 placements, or a tick's 100 health verdicts, read and
// rewrote the deployment's groups JSON once per allocation. The changes are
// applied in the order they are counted, so the row written is the one the
// per-allocation writes ended with: the same bytes on every replica.
import type { Db } from "../../store/db.ts";
import type { DeploymentGroup } from "../../store/schema-jobs.ts";
import { deploymentById, setDeploymentGroups } from "./jobs-prepared.ts";

type Groups = Record<string, DeploymentGroup>;

export class DeploymentCounts {
  /** Groups as they stand after the changes counted so far; null: no such deployment. */
  private pending = new Map<string, Groups | null>();
  private changed = new Set<string>();

  constructor(private db: Db) {}

  /** Changes one group of a deployment; a deployment or group that does not exist is left alone. */
  count(deploymentId: string, group: string, change: (g: DeploymentGroup) => DeploymentGroup): void {
    let groups = this.pending.get(deploymentId);
    if (groups === undefined) {
      groups = deploymentById(this.db).get({ id: deploymentId })?.groups ?? null;
      this.pending.set(deploymentId, groups);
    }
    const g = groups?.[group];
    if (!groups || !g) return;
    this.pending.set(deploymentId, { ...groups, [group]: change(g) });
    this.changed.add(deploymentId);
  }

  /** Writes every deployment that changed, at `index`. */
  flush(index: number): void {
    for (const id of this.changed) setDeploymentGroups(this.db).run({ groups: this.pending.get(id)!, index, id });
    this.pending.clear();
    this.changed.clear();
  }
}
