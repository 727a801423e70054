// Deployments as the API shows them: Nomad's shape (structs.Deployment with
// its per-group DeploymentState), so Nomad clients and habits carry over.
import type { StateReader } from "../state/reader.ts";
import type { DeploymentGroup, DeploymentRow } from "../store/schema-jobs.ts";

/** A deployment by id or unique id prefix (as `nomad deployment status` accepts); undefined when none or ambiguous. */
export function findDeployment(state: StateReader, idOrPrefix: string): DeploymentRow | undefined {
  if (!idOrPrefix) return undefined;
  const all = state.jobs.listDeployments();
  const exact = all.find((d) => d.id === idOrPrefix);
  if (exact) return exact;
  const matches = all.filter((d) => d.id.startsWith(idOrPrefix));
  return matches.length === 1 ? matches[0] : undefined;
}

export function deploymentGroupView(g: DeploymentGroup) {
  return {
    AutoRevert: g.autoRevert,
    AutoPromote: g.autoPromote ?? false,
    Promoted: g.promoted ?? false,
    DesiredCanaries: g.desiredCanaries ?? 0,
    PlacedCanaries: g.placedCanaries ?? [],
    DesiredTotal: g.desired,
    PlacedAllocs: g.placed,
    HealthyAllocs: g.healthy,
    UnhealthyAllocs: g.unhealthy,
  };
}

/** Nomad's descriptions of a running deployment whose canaries wait for a promotion. */
export function statusDescription(d: Pick<DeploymentRow, "status" | "statusDescription" | "groups">): string {
  if (d.statusDescription || d.status !== "running") return d.statusDescription;
  const waiting = Object.values(d.groups).filter((g) => (g.desiredCanaries ?? 0) > 0 && !g.promoted);
  if (waiting.length === 0) return "";
  return waiting.every((g) => g.autoPromote) ? "Deployment is running pending automatic promotion" : "Deployment is running but requires manual promotion";
}

export function deploymentView(d: DeploymentRow) {
  return {
    ID: d.id, Namespace: d.namespace, JobID: d.jobId, JobVersion: d.jobVersion,
    Status: d.status, StatusDescription: statusDescription(d),
    TaskGroups: Object.fromEntries(Object.entries(d.groups).map(([name, g]) => [name, deploymentGroupView(g)])),
    /** Nomad's IsMultiregion etc. are not modelled; CreateTime is ms epoch here. */
    CreateTime: d.createdAt, CreateIndex: d.createIndex, ModifyIndex: d.modifyIndex,
  };
}
