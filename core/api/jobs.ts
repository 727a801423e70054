// Jobs API (Nomad-like): register, read, stop, dry-run plan, evaluations.
//   GET    /v1/jobs                     list (?namespace, blocking ?index&wait)
//   POST   /v1/jobs                     register: JSON or TOML body (Content-Type)
//   GET    /v1/job/{id}                 one job with versions and deployments
//   DELETE /v1/job/{id}                 stop (?purge forgets it)
//   POST   /v1/job/{id}/plan            dry run: placements, failures and reasons; nothing committed
//   GET    /v1/evaluations, /v1/evaluation/{id}
// On an agent every route is handed to a leader (leader: "forward"); reads are leader: "read" routes
// (a follower passes them to the leader unless ?stale).
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { readScope } from "../acl/read-scope.ts";
import { requireRawPermission } from "../acl/raw-permission.ts";
import { ApiError, statusForCode } from "../http/errors.ts";
import type { SchedulingLoop } from "../cluster/scheduling/loop.ts";
import type { Job } from "../scheduler/index.ts";
import type { CoreApiDeps } from "./deps.ts";
import { launchRoutes, templateView } from "./job-launch.ts";
import { jobVersionRoutes, keptVersions, planDetails } from "./job-versions.ts";
import { CheckIndexQuery, enforcedIndex } from "./check-index.ts";
import { registerJobExtras } from "../state/domains/jobs-commands.ts";
import { jobEvaluationsRoute, latestPlacementFailure } from "./job-placement.ts";
import { jobValidateRoute } from "./job-validate.ts";
import { deploymentRoutes } from "./deployments.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { collectPage } from "../http/paging.ts";
import type { AllocRow, JobRow } from "../store/schema-jobs.ts";
import { PageQuery, PrefixQuery, pageRequest, setPageHeaders } from "./paged-list.ts";
import { BlockingQuery, Loose, NamespaceQuery, blocking, evalView, jobFromBody, jobOr404, jobView, namespaceOf, JobSpecError } from "./job-views.ts";

const tags = ["jobs"];
const IdParam = z.object({ id: z.string().min(1).max(128) });
const created = { ...jsonResponse(Loose), ...errorResponses };

/** The job document of a POST, or a 400 listing every problem with its key path. */
async function bodyJob(c: Context): Promise<Job | Response> {
  try {
    return await jobFromBody(c);
  } catch (err) {
    if (err instanceof JobSpecError) return c.json({ error: err.message, code: err.code, errors: err.errors }, 400);
    throw err;
  }
}

type Add = (route: ReturnType<typeof createRoute>, handler: (c: Context) => Response | Promise<Response>, stateRead?: boolean) => void;

/** Adds a core route that an agent hands to a leader as is: a "read" of replicated state, else a "forward". */
export function routedAdder(d: CoreApiDeps): Add {
  return (route, handler, stateRead = false) =>
    d.routes.add({ owner: "core", route, handler, leader: stateRead ? "read" : "forward" });
}

export function jobRoutes(d: CoreApiDeps, scheduling: SchedulingLoop | undefined): void {
  const add = routedAdder(d);
  const propose = async (cmd: Parameters<CoreApiDeps["propose"]>[0]) => {
    const out = await d.propose(cmd);
    if (!out.result.ok) throw new ApiError(statusForCode(out.result.code), out.result.code, out.result.message);
    return out;
  };
  planRoute(d, add, scheduling);
  evaluationRoutes(d, add);
  launchRoutes(d, add);
  jobVersionRoutes(d, add);
  jobEvaluationsRoute(d, add);
  jobValidateRoute(d);
  deploymentRoutes(d, add);

  add(createRoute({
    method: "get", path: "/v1/jobs", tags,
    summary: "List jobs with allocation counts (?namespace; ?prefix of the ID; ?per_page&next_token pages by (namespace, id); ?filter; blocking with ?index&wait)",
    request: { query: NamespaceQuery.extend(BlockingQuery.shape).extend(PageQuery.shape).extend(PrefixQuery.shape).extend({ all: z.string().optional() }) }, responses: created,
  }), async (c) => {
    const q = new URL(c.req.url).searchParams;
    const ns = q.has("namespace") ? namespaceOf(c) : undefined;
    const { index, waitMs } = blocking(c);
    const params = pageRequest(c, ["s", "s"]);
    // Jobs the token may not read are left out before the page is cut and before anything is counted, and
    // do not move the index (the highest of the readable jobs and their allocations on the page).
    const scope = readScope(c);
    const everyJob = scope.seesAll("job");
    const out = await d.state.blocking({ tables: ["jobs", "allocations"], minIndex: index, waitMs, signal: c.req.raw.signal }, () => {
      const allocsOf = new Map<JobRow, AllocRow[]>();
      const page = collectPage({
        params,
        scan: (from, limit) => d.state.lists.jobs({ namespace: ns, prefix: q.get("prefix") ?? undefined }, from, limit),
        keep: (rows) => {
          const kept = scope.keep(rows, "job", (j) => j.id);
          // The batch's allocations in one query, before any is viewed (a filter views every job it scans).
          const byJob = new Map<string, AllocRow[]>();
          for (const a of d.state.lists.allocsOfJobs(kept)) {
            const k = `${a.namespace}\0${a.jobId}`;
            const list = byJob.get(k);
            if (list) list.push(a);
            else byJob.set(k, [a]);
          }
          for (const j of kept) allocsOf.set(j, byJob.get(`${j.namespace}\0${j.id}`) ?? []);
          return kept;
        },
        keyOf: (j) => [j.namespace, j.id],
        view: (j) => jobView(j, allocsOf.get(j) ?? d.state.jobs.listAllocs({ namespace: j.namespace, jobId: j.id })),
      });
      return {
        index: everyJob
          ? Math.max(d.state.tableIndex("jobs"), d.state.tableIndex("allocations"))
          : page.rows.reduce((m, j) => (allocsOf.get(j) ?? []).reduce((n, a) => Math.max(n, a.modifyIndex), Math.max(m, j.modifyIndex)), 1),
        value: page,
      };
    });
    c.header("X-Corral-Index", String(out.index));
    setPageHeaders(c, out.value);
    return c.json(out.value.views);
  }, true);

  // Raw tasks need a second permission, checked here before an agent forwards.
  d.routes.add({ owner: "core", route: createRoute({
    method: "post", path: "/v1/jobs", tags,
    summary: "Register a job: the body is a job document (docs/jobs.md), TOML when Content-Type is application/toml, JSON when application/json or absent; ?JobModifyIndex=N registers only if the job's modify index is still N (0: new job), else 409",
    request: { query: CheckIndexQuery }, responses: created,
  }), leader: "forward", beforeForward: (c) => requireRawPermission(c), handler: async (c) => {
    await requireRawPermission(c);
    const enforceIndex = enforcedIndex(c);
    const job = await bodyJob(c);
    if (job instanceof Response) return job;
    const evalId = randomUUID();
    const out = await propose({ type: "RegisterJob", at: Date.now(), job, evalId, ...registerJobExtras({ enforceIndex, keepVersions: d.jobTrackedVersions, job }) });
    const v = out.result.ok ? (out.result.value as { version: number; changed: boolean }) : undefined;
    return c.json({ jobId: job.id, namespace: job.namespace, evalId, index: out.index, version: v?.version, changed: v?.changed });
  } });

  add(createRoute({
    method: "get", path: "/v1/job/{id}", tags, summary: "One job: spec, status, versions kept, deployments, allocation counts",
    request: { params: IdParam, query: NamespaceQuery }, responses: created,
  }), (c) => {
    const ns = namespaceOf(c);
    const j = jobOr404(d.state, ns, pathParam(c, "id"));
    const versions = keptVersions(d.state, ns, j.id, j.version).map((k) => k.version);
    return c.json({
      ...jobView(j, d.state.jobs.listAllocs({ namespace: ns, jobId: j.id })), spec: j.spec, versions,
      deployments: d.state.jobs.listDeployments({ namespace: ns, jobId: j.id }).slice(0, 5),
      ...templateView(d.state, j, Date.now()),
      // Why something is not placed (Nomad's FailedTGAllocs of the deciding evaluation); null when all is placed.
      placementFailure: j.stop ? null : latestPlacementFailure(d.state, ns, j.id),
    });
  }, true);

  add(createRoute({
    method: "delete", path: "/v1/job/{id}", tags, summary: "Stop a job (its allocations stop); ?purge also forgets it",
    request: { params: IdParam, query: NamespaceQuery.extend({ purge: z.string().optional() }) }, responses: created,
  }), async (c) => {
    const ns = namespaceOf(c);
    const evalId = randomUUID();
    const purge = new URL(c.req.url).searchParams.has("purge");
    const out = await propose({ type: "DeregisterJob", v: 2, at: Date.now(), namespace: ns, jobId: pathParam(c, "id"), purge, evalId });
    return c.json({ evalId, index: out.index, purged: purge });
  });

}

/** POST /v1/job/{id}/plan: a dry run on the leader, nothing committed. */
function planRoute(d: CoreApiDeps, add: Add, scheduling: SchedulingLoop | undefined): void {
  add(createRoute({
    method: "post", path: "/v1/job/{id}/plan", tags,
    summary: "Dry run: what registering this job document would place and stop, with the reasons for what cannot be placed. Nothing is committed",
    request: { params: IdParam }, responses: created,
  }), async (c) => {
    if (!scheduling) throw new ApiError(503, "NOT_A_LEADER_ROLE", "plans are computed by leader-role nodes");
    const job = await bodyJob(c);
    if (job instanceof Response) return job;
    if (job.id !== pathParam(c, "id")) throw new ApiError(400, "INVALID_INPUT", `the document's id "${job.id}" differs from the path's "${pathParam(c, "id")}"`);
    const outcome = scheduling.dryRun(job);
    const { plan, commit } = outcome;
    const name = (id: string) => d.state.getNode(id)?.name ?? id;
    return c.json({
      jobId: job.id, namespace: job.namespace, jobVersion: commit.jobVersion, blocked: plan.blocked,
      placements: plan.placements.map((p) => ({ ...p, nodeName: name(p.nodeId) })),
      stops: plan.stops.map((s) => ({ ...s, nodeName: name(s.nodeId) })),
      failedGroups: plan.failedGroups, opensDeployment: commit.deployment !== undefined,
      ...planDetails(d.state, job, outcome),
    });
  }, true);

}

function evaluationRoutes(d: CoreApiDeps, add: Add): void {
  add(createRoute({
    method: "get", path: "/v1/evaluations", tags,
    summary: "Evaluations, newest first (?namespace, ?job, ?status=pending,blocked,...; ?per_page&next_token; ?filter); at most 1000 without ?per_page",
    request: { query: NamespaceQuery.extend(PageQuery.shape).extend({ job: z.string().max(128).optional(), status: z.string().max(64).optional() }) }, responses: created,
  }), (c) => {
    const q = new URL(c.req.url).searchParams;
    const status = q.get("status")?.split(",").filter(Boolean) as never;
    const scope = readScope(c);
    const filter = { namespace: q.has("namespace") ? namespaceOf(c) : undefined, jobId: q.get("job") ?? undefined, status };
    // Filtered before the cut: hidden evaluations must not take places in a page (or in the first 1000).
    const page = collectPage({
      params: pageRequest(c, ["n", "s"]), cap: 1000,
      scan: (from, limit) => d.state.lists.evals(filter, from, limit),
      keep: (rows) => scope.keep(rows, "job", (e) => e.jobId),
      keyOf: (e) => [e.createIndex, e.id],
      view: evalView,
    });
    setPageHeaders(c, page);
    return c.json(page.views);
  }, true);

  add(createRoute({
    method: "get", path: "/v1/evaluation/{id}", tags, summary: "One evaluation with its placement failures",
    request: { params: z.object({ id: z.string().min(1).max(256) }) }, responses: created,
  }), (c) => {
    const e = d.state.jobs.getEval(pathParam(c, "id"));
    if (!e) throw new ApiError(404, "EVAL_NOT_FOUND", `no evaluation ${pathParam(c, "id")}`);
    return c.json(evalView(e));
  }, true);
}
