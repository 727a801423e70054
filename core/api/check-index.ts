// `job run --check-index N` on the wire: POST /v1/jobs?JobModifyIndex=N
// (&EnforceIndex=true, the default when JobModifyIndex is given; Nomad's
// names, which its register body carries). The applier compares N with the
// job's modify index (job-guards.ts), so two racing writers cannot both pass.
import type { Context } from "hono";
import { z } from "@hono/zod-openapi";
import { ApiError } from "../http/errors.ts";

export const CheckIndexQuery = z.object({
  JobModifyIndex: z.string().max(20).optional(),
  EnforceIndex: z.enum(["true", "false", ""]).optional(),
});

/** The index to enforce, or undefined when the request asks for none; 400 on a malformed one. */
export function enforcedIndex(c: Context): number | undefined {
  const q = new URL(c.req.url).searchParams;
  const raw = q.get("JobModifyIndex");
  const enforce = q.get("EnforceIndex");
  if (enforce !== null && !["true", "false", ""].includes(enforce)) throw new ApiError(400, "INVALID_INPUT", `EnforceIndex must be true or false, not ${JSON.stringify(enforce)}`);
  if (raw === null) {
    if (enforce === "true" || enforce === "") throw new ApiError(400, "INVALID_INPUT", "EnforceIndex needs JobModifyIndex (0: the job must not exist yet)");
    return undefined;
  }
  if (!/^\d{1,16}$/.test(raw)) throw new ApiError(400, "INVALID_INPUT", `JobModifyIndex must be a whole number, not ${JSON.stringify(raw)}`);
  return enforce === "false" ? undefined : Number(raw);
}
