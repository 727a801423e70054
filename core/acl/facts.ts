// The facts an ACL decision needs from the replicated state: a node's name
// from its id, the job of an allocation or evaluation, the destination of an
// intention by id, who owns the services
// and checks a catalog node holds, the node a session belongs to. Leader-role nodes read them from their
// state; agents (no state) ask a leader for the very same answers over signed
// RPC (POST /v1/cluster/acl/facts), so an agent decides exactly as a leader
// does (security issue 13, agent parity). One function serves both.
import { z } from "zod";
import type { StateReader } from "../state/reader.ts";
import { findDeployment } from "../api/deployment-views.ts";
import { workloadJobFromState, workloadServiceFromState } from "../variables/workload-verify.ts";

export const FactQuery = z.object({
  kind: z.enum(["nodeName", "jobOfAlloc", "jobOfEval", "jobOfDeployment", "intentionDestination", "catalogOwners", "sessionNode", "workloadJob", "workloadService"]),
  id: z.string().max(1024),
}).strict();
export type FactQuery = z.infer<typeof FactQuery>;

/** Who owns what on one catalog node: service id → service name, check id → its service id ("" = a node check). */
export interface CatalogOwners {
  services: Record<string, string>;
  checks: Record<string, string>;
}

export const NO_OWNERS: CatalogOwners = { services: {}, checks: {} };

/**
 * The answer to one fact query, read from `state`. Unknown things answer
 * what the leader's route would check for them: a node id that names no node
 * stays as given, an unknown allocation, evaluation, intention or session
 * names "", an unknown catalog node owns nothing.
 */
export function readFact(state: StateReader, q: FactQuery): string | CatalogOwners {
  switch (q.kind) {
    case "nodeName":
      return state.getNode(q.id)?.name ?? q.id;
    case "jobOfAlloc":
      return state.jobs.getAlloc(q.id)?.jobId ?? "";
    case "workloadJob":
      // id = "<alloc id>/<task>": the job a workload token speaks for, "" once its allocation stopped (core/variables/workload-verify.ts).
      return workloadJobFromState(state, q.id);
    case "workloadService":
      // id = "<alloc id>/<task>": the service that task registers, its identity for intentions and the mesh (docs/mesh.md).
      return workloadServiceFromState(state, q.id);
    case "jobOfEval":
      return state.jobs.getEval(q.id)?.jobId ?? "";
    case "jobOfDeployment":
      return findDeployment(state, q.id)?.jobId ?? "";
    case "intentionDestination":
      return state.acl.intention(q.id)?.destination ?? "";
    case "sessionNode":
      return state.sessions.get(q.id)?.node ?? "";
    case "catalogOwners": {
      const node = state.catalog.nodeByName(q.id);
      if (!node) return NO_OWNERS;
      const r = state.catalog.registrations(node.id);
      return {
        services: Object.fromEntries(r.services.map((s) => [s.id, s.name])),
        checks: Object.fromEntries(r.checks.map((c) => [c.id, c.serviceId])),
      };
    }
  }
}
