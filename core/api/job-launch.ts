// Launching children of template jobs (docs/jobs.md#periodic-jobs, #parameterized-jobs):
//   POST /v1/job/{id}/dispatch         {meta?, payload? (base64), idempotencyToken?}: a child of a parameterized job
//   POST /v1/job/{id}/periodic/force   launch a periodic job now, whatever its schedule
// Each proposes one LaunchChildJob entry; the applier records the launch,
// so a repeated token answers the child it already created.
import { randomBytes, randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, statusForCode } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import { childJob, dispatchChildId, dispatchProblems, periodicChildId } from "../cluster/scheduling/children.ts";
import type { CoreApiDeps } from "./deps.ts";
import type { StateReader } from "../state/reader.ts";
import type { JobRow } from "../store/schema-jobs.ts";
import { nextLaunch } from "../scheduler/index.ts";
import { compileCrons } from "../cluster/scheduling/periodic-plan.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { Loose, NamespaceQuery, jobOr404, namespaceOf } from "./job-views.ts";

const tags = ["jobs"];
const IdParam = z.object({ id: z.string().min(1).max(128) });
const answers = { ...jsonResponse(Loose), ...errorResponses };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const DispatchRequest = z.strictObject({
  meta: z.record(z.string().min(1).max(128), z.string().max(65_536)).default({}),
  /** The payload, base64 (at most 16 KiB decoded). */
  payload: z.string().max(32_768).refine((s) => s.length % 4 === 0 && BASE64.test(s), "must be base64").optional(),
  /** A repeated dispatch with the same token creates nothing and answers the first child. */
  idempotencyToken: z.string().min(1).max(128).optional(),
});

/**
 * What `GET /v1/job/{id}` adds for a periodic or parameterized job: its
 * newest children (at most 20, newest first) and, when periodic, the next
 * launch time (ms) the leader's schedule would give from the newest
 * recorded launch.
 */
export function templateView(state: StateReader, j: JobRow, now: number): { children?: { id: string; status: string; submittedAt: number }[]; nextLaunch?: number | null } {
  if (!j.spec.periodic && !j.spec.parameterized) return {};
  const prefix = `${j.id}/`;
  const children = state.jobs.listJobs(j.namespace).filter((c) => c.id.startsWith(prefix) && c.spec.parentId === j.id)
    .sort((a, b) => b.createIndex - a.createIndex).slice(0, 20).map((c) => ({ id: c.id, status: c.status, submittedAt: c.submittedAt }));
  if (!j.spec.periodic) return { children };
  const last = state.jobs.launches(j.namespace, j.id, "periodic")[0];
  const from = Math.max(last ? Number(last.key) * 1000 : j.submittedAt, now);
  return { children, nextLaunch: j.stop || !j.spec.periodic.enabled ? null : nextLaunch(compileCrons(j.spec.periodic), from, j.spec.periodic.timeZone) };
}

type Add = (route: ReturnType<typeof createRoute>, handler: (c: Context) => Response | Promise<Response>, stateRead?: boolean) => void;

export function launchRoutes(d: CoreApiDeps, add: Add): void {
  const propose = async (cmd: Parameters<CoreApiDeps["propose"]>[0]) => {
    const out = await d.propose(cmd);
    if (!out.result.ok) throw new ApiError(statusForCode(out.result.code), out.result.code, out.result.message);
    return { index: out.index, value: out.result.value as { childId: string; evalId: string; duplicate: boolean } };
  };

  add(createRoute({
    method: "post", path: "/v1/job/{id}/dispatch", tags,
    summary: "Dispatch a parameterized job: a child job with the given meta and payload (base64); idempotencyToken makes a repeat a no-op",
    request: { params: IdParam, query: NamespaceQuery }, responses: answers,
  }), async (c) => {
    const ns = namespaceOf(c);
    const parent = jobOr404(d.state, ns, pathParam(c, "id"));
    if (!parent.spec.parameterized) throw new ApiError(400, "NOT_PARAMETERIZED", `job "${parent.id}" is not parameterized`);
    const body = await requestBody(c);
    if (body.kind === "invalid") throw new ApiError(400, "INVALID_JSON", `the body is not JSON: ${body.message}`);
    const parsed = DispatchRequest.safeParse(body.kind === "empty" ? {} : body.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(400, "INVALID_INPUT", `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const req = parsed.data;
    const bytes = req.payload === undefined ? undefined : Buffer.from(req.payload, "base64").length;
    const problems = dispatchProblems(parent.spec.parameterized, req.meta, bytes);
    if (problems.length) throw new ApiError(400, "INVALID_DISPATCH", problems.join("; "));
    const now = Date.now();
    const childId = dispatchChildId(parent.id, now, randomBytes(4).toString("hex"));
    const evalId = randomUUID();
    const job = childJob(parent.spec, childId, { meta: req.meta, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
    const out = await propose({
      type: "LaunchChildJob", v: 1, at: now, kind: "dispatch", namespace: ns, parentId: parent.id,
      key: req.idempotencyToken !== undefined ? `token:${req.idempotencyToken}` : `child:${childId}`, job, evalId,
    });
    return c.json({ dispatchedJobId: out.value.childId, evalId: out.value.evalId, index: out.index, duplicate: out.value.duplicate });
  });

  add(createRoute({
    method: "post", path: "/v1/job/{id}/periodic/force", tags,
    summary: "Launch a periodic job now (a child job ID/periodic-<unix time>), outside its schedule and regardless of prohibit_overlap",
    request: { params: IdParam, query: NamespaceQuery }, responses: answers,
  }), async (c) => {
    const ns = namespaceOf(c);
    const parent = jobOr404(d.state, ns, pathParam(c, "id"));
    if (!parent.spec.periodic) throw new ApiError(400, "NOT_PERIODIC", `job "${parent.id}" is not periodic`);
    const now = Date.now();
    const childId = periodicChildId(parent.id, now);
    const evalId = randomUUID();
    const out = await propose({
      type: "LaunchChildJob", v: 1, at: now, kind: "periodic-force", namespace: ns, parentId: parent.id,
      key: String(Math.floor(now / 1000)), job: childJob(parent.spec, childId), evalId,
    });
    return c.json({ childJobId: out.value.childId, evalId: out.value.evalId, index: out.index });
  });
}
