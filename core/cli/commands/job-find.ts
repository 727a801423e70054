// Which namespace a job id given without --namespace means, and the
// "Placement Failure" block of `corral job status`.
//
// The namespace comes from GET /v1/jobs (every namespace), which the server
// filters by the token's read rules before answering: a job the token may
// not read is not listed, so it is neither found nor named as a namespace
// where the id also exists. Nothing here learns more than the list shows.
import { UsageError } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { listAll } from "../paged.ts";
import { placementFailureText, type FailedTGAllocs } from "../../scheduler/placement-failure.ts";

/** The namespace to read `id` in: --namespace when given, else the only one holding it (default when none does). */
export async function namespaceOfJob(client: ApiClient, id: string, flag: string | undefined): Promise<string> {
  if (flag) return flag;
  // Filtered on the server (every page): only this id's rows, in every namespace the token may read.
  const list = await listAll<{ id: string; namespace: string }>(client, `/v1/jobs?filter=${encodeURIComponent(`ID == ${JSON.stringify(id)}`)}`);
  const where = [...new Set(list.filter((j) => j.id === id).map((j) => j.namespace))].sort();
  if (where.length > 1) {
    throw new UsageError(`job "${id}" exists in ${where.length} namespaces (${where.join(", ")}): say which with --namespace`);
  }
  // None: ask the default namespace, whose 404 names the job and the namespace.
  return where[0] ?? "default";
}

export interface PlacementFailureJson {
  evalId: string;
  evalStatus: string;
  failedTGAllocs: FailedTGAllocs;
}

/** The block printed under the job's facts; [] when everything is placed. */
export function placementFailureBlock(pf: PlacementFailureJson | null | undefined): string[] {
  if (!pf || Object.keys(pf.failedTGAllocs).length === 0) return [];
  return ["", `Placement Failure (evaluation ${pf.evalId.slice(0, 8)}, ${pf.evalStatus})`, ...placementFailureText(pf.failedTGAllocs)];
}
