// Refusals of a RegisterJob that depend on the job as it is when the entry
// is applied (so two racing writers cannot both pass): `job run
// --check-index N` (Nomad's EnforceIndex against JobModifyIndex) and `job
// revert`'s EnforcePriorVersion. Pure: the existing row in, a refusal or
// null out.
import type { CommandResult } from "../result.ts";

type Refusal = Extract<CommandResult, { ok: false }>;

/** The job's modify index as clients see it: the index of the entry that last changed its spec (or stopped it). */
export interface GuardedJob {
  version: number;
  submitIndex: number;
}

export function registerRefusal(
  jobId: string,
  existing: GuardedJob | undefined,
  cmd: { enforceIndex?: number; revert?: { toVersion: number; priorVersion?: number } },
): Refusal | null {
  const n = cmd.enforceIndex;
  if (n !== undefined) {
    if (n === 0 && existing) {
      return { ok: false, code: "INDEX_MISMATCH", message: `Enforcing job modify index 0: job "${jobId}" already exists (its modify index is ${existing.submitIndex})` };
    }
    if (n > 0 && !existing) {
      return { ok: false, code: "INDEX_MISMATCH", message: `Enforcing job modify index ${n}: job "${jobId}" does not exist` };
    }
    if (n > 0 && existing && existing.submitIndex !== n) {
      return {
        ok: false, code: "INDEX_MISMATCH",
        message: `Enforcing job modify index ${n}: job "${jobId}" exists with conflicting job modify index ${existing.submitIndex} (it changed since the plan; plan again)`,
      };
    }
  }
  const prior = cmd.revert?.priorVersion;
  if (prior !== undefined && existing?.version !== prior) {
    return { ok: false, code: "INDEX_MISMATCH", message: `current version of job "${jobId}" is ${existing?.version ?? "none"}, not the expected prior version ${prior}` };
  }
  return null;
}
