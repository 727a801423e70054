// POST /v1/validate/job (Nomad's path): is this job document valid? The
// body is a job document as for POST /v1/jobs (TOML by Content-Type, JSON
// otherwise). 200 `{ valid: true, jobId, namespace }`, or the same 400
// INVALID_JOB with every problem and its key path that a register would
// answer. Nothing is stored and no state is read, so any node answers it
// itself (no hop to the leader). `corral job validate FILE` calls it.
import { createRoute } from "@hono/zod-openapi";
import type { CoreApiDeps } from "./deps.ts";
import { JobSpecError, Loose, jobFromBody } from "./job-views.ts";
import { errorResponses, jsonResponse } from "./schemas.ts";

export function jobValidateRoute(d: CoreApiDeps): void {
  d.routes.add({ owner: "core",
    leader: "local", route: createRoute({
    method: "post", path: "/v1/validate/job", tags: ["jobs"],
    summary: "Validate a job document (TOML or JSON by Content-Type) without registering it: every problem with its key path",
    responses: { ...jsonResponse(Loose), ...errorResponses },
  }), handler: async (c) => {
    try {
      const job = await jobFromBody(c);
      return c.json({ valid: true, jobId: job.id, namespace: job.namespace });
    } catch (err) {
      if (err instanceof JobSpecError) return c.json({ error: err.message, code: err.code, errors: err.errors }, 400);
      throw err;
    }
  } });
}
