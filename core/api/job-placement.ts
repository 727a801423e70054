// Placement failures of a job, as Nomad's API shows them:
//   GET /v1/job/{id}/evaluations   the job's evaluations, newest first, each with FailedTGAllocs
// and `placementFailure` in GET /v1/job/{id}: the evaluation that decided
// what could not be placed, with its FailedTGAllocs (the CLI's and the
// dashboard's "Placement Failure" block read it).
import { createRoute, z } from "@hono/zod-openapi";
import { toFailedTGAllocs, type FailedTGAllocs } from "../scheduler/placement-failure.ts";
import type { StateReader } from "../state/reader.ts";
import type { EvalRow } from "../store/schema-jobs.ts";
import type { CoreApiDeps } from "./deps.ts";
import { Loose, NamespaceQuery, jobOr404, namespaceOf } from "./job-views.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";

type Add = (route: ReturnType<typeof createRoute>, handler: (c: import("hono").Context) => Response | Promise<Response>, stateRead?: boolean) => void;

export interface PlacementFailure {
  evalId: string;
  evalStatus: string;
  triggeredBy: string;
  createdAt: number;
  failedTGAllocs: FailedTGAllocs;
}

/** An evaluation as the API shows it: the row plus its failures in Nomad's shape. */
export function evalWithFailures(e: EvalRow): EvalRow & { failedTGAllocs: FailedTGAllocs | null } {
  return { ...e, failedTGAllocs: e.failedGroups.length ? toFailedTGAllocs(e.failedGroups) : null };
}

/**
 * The evaluation that says why the job is not fully placed, or null. The
 * newest evaluation decides (a later one that placed everything means the
 * failure is over); when it placed everything but an older one is still
 * parked as blocked, that one still waits for capacity, so it is shown.
 */
export function latestPlacementFailure(state: StateReader, namespace: string, jobId: string): PlacementFailure | null {
  // A canceled evaluation was superseded (core/cluster/scheduling/loop.ts): it decides nothing.
  const evals = state.jobs.listEvals({ namespace, jobId }).filter((e) => e.status !== "canceled");
  const newest = evals[0];
  const e = newest && newest.failedGroups.length ? newest : evals.find((x) => x.status === "blocked" && x.failedGroups.length);
  if (!e) return null;
  return { evalId: e.id, evalStatus: e.status, triggeredBy: e.triggeredBy, createdAt: e.createdAt, failedTGAllocs: toFailedTGAllocs(e.failedGroups) };
}

export function jobEvaluationsRoute(d: CoreApiDeps, add: Add): void {
  add(createRoute({
    method: "get", path: "/v1/job/{id}/evaluations", tags: ["jobs"],
    summary: "A job's evaluations, newest first, each with its placement failures (FailedTGAllocs)",
    request: { params: z.object({ id: z.string().min(1).max(128) }), query: NamespaceQuery }, responses: { ...jsonResponse(Loose), ...errorResponses },
  }), (c) => {
    const ns = namespaceOf(c);
    const job = jobOr404(d.state, ns, pathParam(c, "id"));
    return c.json(d.state.jobs.listEvals({ namespace: ns, jobId: job.id }).slice(0, 100).map(evalWithFailures));
  }, true);
}
