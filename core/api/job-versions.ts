// Job versions (docs/jobs.md#versions-plan-and-revert), Nomad's shapes:
//   GET  /v1/job/{id}/versions[?diffs=true]   { Versions: [newest first], Diffs?: [Versions[i] against Versions[i+1]] }
//   POST /v1/job/{id}/revert                  { JobVersion, EnforcePriorVersion? }: that version's spec becomes a new version
// and what `job plan` adds to its dry run: the field diff against the
// running version, what happens to each allocation, and the job modify
// index for `job run --check-index`.
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { aclError, requestIdentity } from "../acl/enforce.ts";
import { RAW_PERMISSION } from "../acl/raw-permission.ts";
import { ApiError, statusForCode } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import type { EvalOutcome } from "../cluster/scheduling/evaluate.ts";
import { annotatePlan } from "../cluster/scheduling/plan-annotate.ts";
import { diffJobs, type JobDiff } from "../scheduler/job-diff.ts";
import { hostPrivilegedTasks } from "../scheduler/raw.ts";
import type { Job } from "../scheduler/index.ts";
import { stableJson } from "../stable-json.ts";
import { registerJobExtras } from "../state/domains/jobs-commands.ts";
import type { StateReader } from "../state/reader.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { Loose, NamespaceQuery, jobOr404, namespaceOf } from "./job-views.ts";

const tags = ["jobs"];
const IdParam = z.object({ id: z.string().min(1).max(128) });
const answers = { ...jsonResponse(Loose), ...errorResponses };

export const RevertRequest = z.strictObject({
  JobVersion: z.number().int().nonnegative(),
  /** Revert only if the job's current version is still this one (optimistic concurrency). */
  EnforcePriorVersion: z.number().int().nonnegative().optional(),
});

type Add = (route: ReturnType<typeof createRoute>, handler: (c: Context) => Response | Promise<Response>, stateRead?: boolean) => void;

/** Every version the state keeps of a job, newest first. */
export function keptVersions(state: StateReader, namespace: string, id: string, current: number): { version: number; spec: Job }[] {
  const out: { version: number; spec: Job }[] = [];
  // The kept versions are the newest N, consecutive (an unchanged document makes none): walk down from the current one to the first missing.
  for (let v = current; v >= 0; v--) {
    const spec = state.jobs.jobVersion(namespace, id, v);
    if (spec) out.push({ version: v, spec });
    else if (out.length > 0) break;
  }
  return out;
}

export function jobVersionRoutes(d: CoreApiDeps, add: Add): void {
  add(createRoute({
    method: "get", path: "/v1/job/{id}/versions", tags,
    summary: "The versions a job keeps, newest first ({Versions}); ?diffs=true adds Diffs[i], Versions[i] against Versions[i+1]",
    request: { params: IdParam, query: NamespaceQuery.extend({ diffs: z.enum(["true", "false", ""]).optional() }) }, responses: answers,
  }), (c) => {
    const ns = namespaceOf(c);
    const raw = new URL(c.req.url).searchParams.get("diffs");
    if (raw !== null && !["true", "false", ""].includes(raw)) throw new ApiError(400, "INVALID_INPUT", `diffs must be true or false, not ${JSON.stringify(raw)}`);
    const j = jobOr404(d.state, ns, pathParam(c, "id"));
    const kept = keptVersions(d.state, ns, j.id, j.version);
    // Stable: the version's rollout succeeded (a successful deployment the state still keeps, or the job's last stable version).
    const succeeded = new Set(d.state.jobs.listDeployments({ namespace: ns, jobId: j.id, status: "successful" }).map((x) => x.jobVersion));
    const Versions = kept.map((k) => ({
      Version: k.version, Stable: j.stableVersion === k.version || succeeded.has(k.version), Current: k.version === j.version,
      // Milliseconds since the epoch (Nomad's Job.SubmitTime is nanoseconds; a different name keeps them apart). 0: unknown.
      SubmittedAt: d.state.jobs.jobVersionSubmittedAt(ns, j.id, k.version) ?? 0,
      Job: k.spec,
    }));
    const body: { Versions: typeof Versions; Diffs?: JobDiff[]; JobModifyIndex: number } = { Versions, JobModifyIndex: j.submitIndex };
    if (raw === "true" || raw === "") body.Diffs = kept.slice(0, -1).map((k, i) => diffJobs(kept[i + 1]!.spec, k.spec));
    c.header("X-Corral-Index", String(j.modifyIndex));
    return c.json(body);
  }, true);

  // An agent checks the version's needs (services, raw tasks) before it forwards.
  d.routes.add({ owner: "core", route: createRoute({
    method: "post", path: "/v1/job/{id}/revert", tags,
    summary: "Revert a job to an earlier version it keeps: that spec is registered as a new version ({JobVersion, EnforcePriorVersion?})",
    request: { params: IdParam, query: NamespaceQuery }, responses: answers,
  }), leader: "forward", beforeForward: (c) => checkForwardedRevert(c, d.forward!), handler: async (c) => {
    const ns = namespaceOf(c);
    const body = await requestBody(c);
    if (body.kind === "invalid") throw new ApiError(400, "INVALID_JSON", `the body is not JSON: ${body.message}`);
    const parsed = RevertRequest.safeParse(body.kind === "empty" ? {} : body.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError(400, "INVALID_INPUT", `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const req = parsed.data;
    const j = jobOr404(d.state, ns, pathParam(c, "id"));
    if (req.JobVersion === j.version) throw new ApiError(400, "INVALID_REVERT", `cannot revert job "${j.id}" to its current version ${j.version}`);
    if (req.JobVersion > j.version) throw new ApiError(400, "INVALID_REVERT", `job "${j.id}" has no version ${req.JobVersion} (the current one is ${j.version})`);
    const spec = d.state.jobs.jobVersion(ns, j.id, req.JobVersion);
    if (!spec) throw new ApiError(404, "JOB_VERSION_NOT_FOUND", `version ${req.JobVersion} of job "${j.id}" is no longer kept (the oldest kept is ${keptVersions(d.state, ns, j.id, j.version).at(-1)?.version ?? j.version})`);
    requireSpecPermissions(c, spec);
    const evalId = randomUUID();
    const out = await d.propose({
      type: "RegisterJob", at: Date.now(), job: spec, evalId,
      ...registerJobExtras({
        revert: { toVersion: req.JobVersion, ...(req.EnforcePriorVersion !== undefined ? { priorVersion: req.EnforcePriorVersion } : {}) },
        keepVersions: d.jobTrackedVersions,
        job: spec,
      }),
    });
    if (!out.result.ok) throw new ApiError(statusForCode(out.result.code), out.result.code, out.result.message);
    const v = out.result.value as { version: number; changed: boolean };
    return c.json({ jobId: j.id, namespace: ns, evalId, index: out.index, version: v.version, changed: v.changed, EvalID: evalId, JobModifyIndex: out.index });
  } });
}

/**
 * On an agent (no state): the version's document is read from a leader
 * (the route's job:write covers the read), and its needs checked against
 * the caller's token here, since the leader sees only the agent's signature.
 * Anything unexpected is left to the leader's answer (400, 404...).
 */
async function checkForwardedRevert(c: Context, forward: (req: Request) => Promise<Response>): Promise<void> {
  if (!requestIdentity(c)) return;
  let wanted: unknown;
  try {
    wanted = ((await c.req.raw.clone().json()) as { JobVersion?: unknown })?.JobVersion;
  } catch {
    return;
  }
  if (typeof wanted !== "number") return;
  const url = new URL(c.req.url);
  const read = new Request(`${url.origin}/v1/job/${encodeURIComponent(pathParam(c, "id"))}/versions?namespace=${encodeURIComponent(namespaceOf(c))}`, { method: "GET", headers: c.req.raw.headers });
  const res = await forward(read);
  if (!res.ok) return;
  const body = (await res.json()) as { Versions?: { Version: number; Job: Job }[] };
  const spec = body.Versions?.find((v) => v.Version === wanted)?.Job;
  if (spec) requireSpecPermissions(c, spec);
}

/**
 * A revert registers a spec the token did not write: it needs what
 * registering that spec needs on top of the route's job:write — service
 * write for each service its tasks declare, operator:write for raw tasks.
 * Checked where the state is (a leader-role node); a request an agent
 * forwarded was checked there for the route only (see docs/acl.md).
 */
function requireSpecPermissions(c: Context, spec: Job): void {
  const identity = requestIdentity(c);
  if (!identity) return;
  for (const name of spec.groups.flatMap((g) => g.tasks.flatMap((t) => (t.service ? [t.service.name] : [])))) {
    if (!identity.authz.allowed("service", name, "write")) throw aclError(c, 403, "PERMISSION_DENIED", `Permission denied: the version registers service "${name}", which needs service:write`);
  }
  const found = hostPrivilegedTasks(spec);
  if (found.length && !identity.authz.allowed(RAW_PERMISSION.resource, RAW_PERMISSION.segment, RAW_PERMISSION.access)) {
    throw aclError(c, 403, "PERMISSION_DENIED", `Permission denied: task ${found[0]!.task} ${found[0]!.why}, which needs operator:write`);
  }
}

/** Groups of the planned version whose running deployment waits for its canaries' promotion (plan-annotate.ts). */
function waitingCanaryGroups(state: StateReader, job: Job, existing: ReturnType<StateReader["jobs"]["getJob"]>): Set<string> {
  if (!existing || existing.stop || stableJson(existing.spec) !== stableJson(job)) return new Set();
  const dep = state.jobs.listDeployments({ namespace: job.namespace, jobId: job.id, status: "running" }).find((d) => d.jobVersion === existing.version);
  return new Set(Object.entries(dep?.groups ?? {}).filter(([, g]) => (g.desiredCanaries ?? 0) > 0 && g.promoted !== true).map(([name]) => name));
}

/** What the plan route adds: the diff against the running version, per-allocation actions, the modify index. */
export function planDetails(state: StateReader, job: Job, outcome: EvalOutcome) {
  const existing = state.jobs.getJob(job.namespace, job.id);
  const diff = diffJobs(existing?.spec, job);
  const allocs = state.jobs.listAllocs({ namespace: job.namespace, jobId: job.id });
  const notes = annotatePlan(job, allocs, outcome, waitingCanaryGroups(state, job, existing));
  for (const g of diff.TaskGroups) g.Updates = notes.groups[g.Name] as Record<string, number> | undefined ?? {};
  const same = existing !== undefined && !existing.stop && stableJson(existing.spec) === stableJson(job);
  const name = (id: string) => state.getNode(id)?.name ?? id;
  return {
    diff, changed: !same,
    annotations: { groups: notes.groups, allocations: notes.allocations.map((a) => ({ ...a, nodeName: name(a.nodeId) })) },
    /** For `job run --check-index` (0: the job does not exist). */
    jobModifyIndex: existing?.submitIndex ?? 0,
  };
}
