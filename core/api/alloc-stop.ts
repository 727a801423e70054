// PUT|POST /v1/allocation/{id}/stop — Nomad's `alloc stop`: the allocation
// is stopped and the scheduler places a replacement (one StopAllocation
// entry stops it and creates the evaluation). Answers Nomad's shape:
// { EvalID, Index }.
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, statusForCode } from "../http/errors.ts";
import type { CoreApiDeps } from "./deps.ts";
import type { routedAdder } from "./jobs.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { Loose } from "./job-views.ts";

const IdParam = z.object({ id: z.string().min(1).max(256) });

export function allocStopRoutes(d: CoreApiDeps, add: ReturnType<typeof routedAdder>): void {
  for (const method of ["put", "post"] as const) {
    add(createRoute({
      method, path: "/v1/allocation/{id}/stop", tags: ["allocations"],
      summary: "Stop an allocation (id or unique prefix); the scheduler places a replacement",
      request: { params: IdParam }, responses: { ...jsonResponse(Loose), ...errorResponses },
    }), async (c) => {
      const id = pathParam(c, "id");
      const a = d.state.jobs.getAlloc(id);
      if (!a) throw new ApiError(404, "ALLOC_NOT_FOUND", `no allocation matches "${id}"`);
      const evalId = randomUUID();
      const out = await d.propose({ type: "StopAllocation", v: 1, at: Date.now(), allocId: a.id, evalId, description: "stopped by an operator (alloc stop)" });
      // Already stopped or ended: a conflict with the allocation's state, as restart and signal answer it.
      if (!out.result.ok) throw new ApiError(out.result.code === "ALLOC_NOT_RUNNING" ? 409 : statusForCode(out.result.code), out.result.code, out.result.message);
      return c.json({ EvalID: evalId, Index: out.index, allocId: a.id });
    });
  }
}
