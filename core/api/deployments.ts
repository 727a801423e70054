// Deployments API, in Nomad's shapes (docs/jobs.md#canary-deployments):
//   GET  /v1/deployments                 every deployment, newest first (?namespace; filtered by job read)
//   GET  /v1/deployment/{id}             one deployment (id or unique prefix)
//   GET  /v1/job/{id}/deployments        the deployments of one job (?namespace)
//   POST /v1/deployment/promote/{id}     {All?: bool, Groups?: string[]}: promote canaries
//   POST /v1/deployment/fail/{id}        mark a running deployment failed (canaries stop; auto_revert rolls back)
// Reads need job read and actions job write on the deployment's job
// (core/acl/route-permissions.ts). Promote and fail each propose one entry
// that also creates the evaluation carrying them out (core/state/domains/deployments.ts).
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { readScope } from "../acl/read-scope.ts";
import { ApiError, statusForCode } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { Loose, NamespaceQuery, jobOr404, namespaceOf } from "./job-views.ts";
import { deploymentView, findDeployment } from "./deployment-views.ts";
import { collectPage } from "../http/paging.ts";
import { PageQuery, pageRequest, setPageHeaders } from "./paged-list.ts";

const tags = ["deployments"];
const IdParam = z.object({ id: z.string().min(1).max(256) });
const answers = { ...jsonResponse(Loose), ...errorResponses };

/** Nomad's DeploymentPromoteRequest (DeploymentID may repeat the path's). */
export const PromoteRequest = z.strictObject({
  DeploymentID: z.string().max(256).optional(),
  All: z.boolean().optional(),
  Groups: z.array(z.string().min(1).max(128)).max(100).optional(),
}).refine((r) => !(r.All === true && r.Groups && r.Groups.length > 0), { message: "give All or Groups, not both" });

const FailRequest = z.strictObject({ DeploymentID: z.string().max(256).optional() });

/** Refusals the applier gives that are the caller's mistake, not a conflict. */
const BAD_REQUEST = new Set(["CANARIES_NOT_HEALTHY", "DEPLOYMENT_NOT_RUNNING", "INVALID_INPUT"]);

type Add = (route: ReturnType<typeof createRoute>, handler: (c: Context) => Response | Promise<Response>, stateRead?: boolean) => void;

async function parsedBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const body = await requestBody(c);
  if (body.kind === "invalid") throw new ApiError(400, "INVALID_JSON", `the body is not JSON: ${body.message}`);
  const parsed = schema.safeParse(body.kind === "empty" ? {} : body.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(400, "INVALID_INPUT", `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return parsed.data;
}

export function deploymentRoutes(d: CoreApiDeps, add: Add): void {
  const or404 = (id: string) => {
    const dep = findDeployment(d.state, id);
    if (!dep) throw new ApiError(404, "DEPLOYMENT_NOT_FOUND", `no deployment ${id}`);
    return dep;
  };
  const propose = async (cmd: Parameters<CoreApiDeps["propose"]>[0]) => {
    const out = await d.propose(cmd);
    if (!out.result.ok) {
      const code = out.result.code;
      throw new ApiError(BAD_REQUEST.has(code) ? 400 : statusForCode(code), code, out.result.message);
    }
    return out;
  };

  add(createRoute({
    method: "get", path: "/v1/deployments", tags,
    summary: "Deployments, newest first (?namespace; those of jobs the token may read; ?per_page&next_token; ?filter)",
    request: { query: NamespaceQuery.extend(PageQuery.shape) }, responses: answers,
  }), (c) => {
    const q = new URL(c.req.url).searchParams;
    const ns = q.has("namespace") ? namespaceOf(c) : undefined;
    const scope = readScope(c);
    const page = collectPage({
      params: pageRequest(c, ["n", "s"]),
      scan: (from, limit) => d.state.lists.deployments(ns === undefined ? {} : { namespace: ns }, from, limit),
      keep: (rows) => scope.keep(rows, "job", (x) => x.jobId),
      keyOf: (x) => [x.createIndex, x.id],
      view: deploymentView,
    });
    // A token that may not read every job gets the index of what it sees: a hidden deployment's change must not move it.
    const index = scope.seesAll("job") ? d.state.tableIndex("deployments") : page.rows.reduce((m, x) => Math.max(m, x.modifyIndex), 1);
    c.header("X-Corral-Index", String(index));
    setPageHeaders(c, page);
    return c.json(page.views);
  }, true);

  add(createRoute({
    method: "get", path: "/v1/deployment/{id}", tags, summary: "One deployment (id or unique prefix) with its task groups' canaries and health",
    request: { params: IdParam }, responses: answers,
  }), (c) => c.json(deploymentView(or404(pathParam(c, "id")))), true);

  add(createRoute({
    method: "get", path: "/v1/job/{id}/deployments", tags, summary: "The deployments of one job, newest first",
    request: { params: IdParam, query: NamespaceQuery }, responses: answers,
  }), (c) => {
    const ns = namespaceOf(c);
    const j = jobOr404(d.state, ns, pathParam(c, "id"));
    return c.json(d.state.jobs.listDeployments({ namespace: ns, jobId: j.id }).map(deploymentView));
  }, true);

  add(createRoute({
    method: "post", path: "/v1/deployment/promote/{id}", tags,
    summary: "Promote a deployment's canaries: {All: true} (the default) or {Groups: [...]}; 400 until every canary of those groups is healthy",
    request: { params: IdParam }, responses: answers,
  }), async (c) => {
    const dep = or404(pathParam(c, "id"));
    const req = await parsedBody(c, PromoteRequest);
    if (req.DeploymentID && req.DeploymentID !== dep.id) throw new ApiError(400, "INVALID_INPUT", `DeploymentID "${req.DeploymentID}" differs from the path's deployment ${dep.id}`);
    const evalId = randomUUID();
    const groups = req.All === true || !req.Groups?.length ? undefined : req.Groups;
    const out = await propose({ type: "PromoteDeployment", v: 1, at: Date.now(), deploymentId: dep.id, ...(groups ? { groups } : {}), evalId });
    return c.json({ EvalID: evalId, EvalCreateIndex: out.index, DeploymentModifyIndex: out.index, Index: out.index, Promoted: (out.result as { value?: { promoted?: string[] } }).value?.promoted ?? [] });
  });

  add(createRoute({
    method: "post", path: "/v1/deployment/fail/{id}", tags,
    summary: "Mark a running deployment failed: its canaries stop, and a job with auto_revert rolls back to its last stable version",
    request: { params: IdParam }, responses: answers,
  }), async (c) => {
    const dep = or404(pathParam(c, "id"));
    const req = await parsedBody(c, FailRequest);
    if (req.DeploymentID && req.DeploymentID !== dep.id) throw new ApiError(400, "INVALID_INPUT", `DeploymentID "${req.DeploymentID}" differs from the path's deployment ${dep.id}`);
    const evalId = randomUUID();
    const out = await propose({ type: "FailDeployment", v: 1, at: Date.now(), deploymentId: dep.id, evalId });
    const revertedTo = (out.result as { value?: { revertedTo?: number } }).value?.revertedTo;
    return c.json({ EvalID: evalId, EvalCreateIndex: out.index, DeploymentModifyIndex: out.index, Index: out.index, RevertedJobVersion: revertedTo ?? null });
  });
}
