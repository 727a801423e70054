// Which events of the cluster stream (/v1/events) a token may see: each by
// the rule of what it describes, as if the caller read that thing directly.
// event:read only opens the stream; a KV event still needs key read on its
// key, a service event service read on its service, a job or allocation
// event job read on its job, a node event node read on its node, a leader
// election operator read. An event that does not name what it describes
// (a service deregistered by id, an allocation by id whose job is gone) is
// shown only to a token that reads every name of that resource. An unknown
// topic is shown to nobody but management. Pure.
import type { ClusterEvent } from "../state/events.ts";
import type { Authorizer, Resource } from "./types.ts";

/** Lookups for events that carry an id but not the name a rule needs ("" or undefined: unknown). */
export interface EventNames {
  jobOfAlloc(allocId: string): string | undefined;
  /** Deployment events (status changes, promotions) name the deployment only. */
  jobOfDeployment?(deploymentId: string): string | undefined;
  nodeName(nodeId: string): string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Read on `name` of `resource`; an unknown name needs read on every name. */
function reads(authz: Authorizer, resource: Resource, name: string | undefined): boolean {
  return name === undefined ? authz.readsAll(resource) : authz.allowed(resource, name, "read");
}

export function eventVisible(e: ClusterEvent, authz: Authorizer, names: EventNames): boolean {
  const p = e.payload;
  switch (e.topic) {
    case "reset":
      return true; // carries no data: "re-read the state"
    case "kv":
      return reads(authz, "key", typeof p.key === "string" ? p.key : undefined);
    case "leader":
      return authz.allowed("operator", "", "read");
    case "plugin":
      return reads(authz, "plugin", str(p.name) ?? str(p.plugin));
    case "node":
      return reads(authz, "node", str(p.name) ?? (str(p.id) && names.nodeName(str(p.id)!)) ?? (str(p.nodeId) && names.nodeName(str(p.nodeId)!)) ?? undefined);
    case "service":
    case "check": {
      const node = str(p.node) ?? (str(p.nodeId) ? names.nodeName(str(p.nodeId)!) : undefined);
      // A sync summary counts every service or check of a node: node read and read on every service.
      if (e.type === "ServicesSynced" || e.type === "ChecksSynced") return reads(authz, "node", node) && authz.readsAll("service");
      if (e.topic === "service") return reads(authz, "service", str(p.name)); // a deregistration by id names none
      if (p.serviceId === "") return reads(authz, "node", node); // a node-level check
      // A service's check: its service by name when the event carries it; a status change by check id
      // does not say whose check it is, so it needs read on every service.
      return reads(authz, "node", node) && reads(authz, "service", str(p.serviceName));
    }
    case "job":
    case "allocation": {
      const job = str(p.jobId) ?? (str(p.allocId) ? names.jobOfAlloc(str(p.allocId)!) : undefined)
        ?? (str(p.deploymentId) ? names.jobOfDeployment?.(str(p.deploymentId)!) : undefined);
      return reads(authz, "job", job);
    }
    default:
      return authz.readsAll("operator") && authz.readsAll("acl") && authz.allowed("acl", "", "write");
  }
}
