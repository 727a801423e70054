// Turns a workload token into whom it speaks for, or null when it does not
// (bad signature, unknown allocation or task, allocation stopped or
// finished). Leader-role nodes decide from their state; agents, which hold
// none, check the signature and ask a leader the same question over signed
// RPC (the "workloadJob" fact, core/acl/facts.ts), so an agent decides as a
// leader does. See workload-identity.ts.
import type { StateReader } from "../state/reader.ts";
import { allocIsLive, deriveIdentityKey, verifyWorkloadToken, type WorkloadGrant } from "./workload-identity.ts";

export type WorkloadVerifier = (secret: string) => Promise<WorkloadGrant | null>;

function allocOf(state: StateReader, allocId: string, task: string) {
  const a = state.jobs.getAlloc(allocId);
  if (!a || a.id !== allocId || !allocIsLive(a)) return undefined;
  return a.groupSpec.tasks.some((t) => t.name === task) ? a : undefined;
}

/** The "workloadJob" fact: `id` is "<alloc id>/<task>"; the job id while that task's allocation is live, else "". */
export function workloadJobFromState(state: StateReader, id: string): string {
  const at = id.indexOf("/");
  return at < 0 ? "" : allocOf(state, id.slice(0, at), id.slice(at + 1))?.jobId ?? "";
}

export function workloadVerifier(o: { clusterSecret: string; state?: () => StateReader; fact?: (q: { kind: "workloadJob"; id: string }) => Promise<unknown> }): WorkloadVerifier {
  const key = deriveIdentityKey(o.clusterSecret);
  return async (secret) => {
    const claim = verifyWorkloadToken(key, secret);
    if (!claim) return null;
    if (o.state) {
      const a = allocOf(o.state(), claim.allocId, claim.task);
      return a ? { ...claim, namespace: a.namespace, jobId: a.jobId, group: a.groupName } : null;
    }
    if (!o.fact) return null;
    const job = await o.fact({ kind: "workloadJob", id: `${claim.allocId}/${claim.task}` });
    return typeof job === "string" && job !== "" ? { ...claim, namespace: "", jobId: job, group: "" } : null;
  };
}
