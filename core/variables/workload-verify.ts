// Turns a workload token into whom it speaks for, or null when it does not
// (bad signature, unknown allocation or task, allocation stopped or
// finished). Leader-role nodes decide from their state; agents, which hold
// none, check the signature and ask a leader for the allocation's job (the
// leader checks the allocation's status again on every read an agent passes
// on). See workload-identity.ts.
import type { StateReader } from "../state/reader.ts";
import { allocIsLive, deriveIdentityKey, verifyWorkloadToken, type WorkloadGrant } from "./workload-identity.ts";

export type WorkloadVerifier = (secret: string) => Promise<WorkloadGrant | null>;

export function workloadVerifier(o: { clusterSecret: string; state?: () => StateReader; jobOfAlloc?: (id: string) => Promise<unknown> }): WorkloadVerifier {
  const key = deriveIdentityKey(o.clusterSecret);
  return async (secret) => {
    const claim = verifyWorkloadToken(key, secret);
    if (!claim) return null;
    if (o.state) {
      const a = o.state().jobs.getAlloc(claim.allocId);
      if (!a || a.id !== claim.allocId || !allocIsLive(a)) return null;
      if (!a.groupSpec.tasks.some((t) => t.name === claim.task)) return null;
      return { ...claim, namespace: a.namespace, jobId: a.jobId, group: a.groupName };
    }
    if (!o.jobOfAlloc) return null;
    const job = await o.jobOfAlloc(claim.allocId);
    return typeof job === "string" && job !== "" ? { ...claim, namespace: "", jobId: job, group: "" } : null;
  };
}
