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

/** The "workloadService" fact: `id` is "<alloc id>/<task>"; the service that task registers while its allocation is live, else "". */
export function workloadServiceFromState(state: StateReader, id: string): string {
  const at = id.indexOf("/");
  if (at < 0) return "";
  const task = id.slice(at + 1);
  return allocOf(state, id.slice(0, at), task)?.groupSpec.tasks.find((t) => t.name === task)?.service?.name ?? "";
}

/** The "workloadJob" fact: `id` is "<alloc id>/<task>"; the job id while that task's allocation is live, else "". */
export function workloadJobFromState(state: StateReader, id: string): string {
  const at = id.indexOf("/");
  return at < 0 ? "" : allocOf(state, id.slice(0, at), id.slice(at + 1))?.jobId ?? "";
}

export function workloadVerifier(o: { clusterSecret: string; state?: () => StateReader; fact?: (q: { kind: "workloadJob" | "workloadService"; id: string }) => Promise<unknown> }): WorkloadVerifier {
  const key = deriveIdentityKey(o.clusterSecret);
  return async (secret) => {
    const claim = verifyWorkloadToken(key, secret);
    if (!claim) return null;
    if (o.state) {
      const a = allocOf(o.state(), claim.allocId, claim.task);
      return a ? { ...claim, namespace: a.namespace, jobId: a.jobId, group: a.groupName, service: workloadServiceFromState(o.state(), `${claim.allocId}/${claim.task}`) } : null;
    }
    if (!o.fact) return null;
    const id = `${claim.allocId}/${claim.task}`;
    const job = await o.fact({ kind: "workloadJob", id });
    if (typeof job !== "string" || job === "") return null;
    // The task's service identity (intentions, the mesh): a leader older than this fact answers 400, read as none.
    const service = await o.fact({ kind: "workloadService", id }).catch(() => "");
    return { ...claim, namespace: "", jobId: job, group: "", service: typeof service === "string" ? service : "" };
  };
}
