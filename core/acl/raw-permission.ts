// Registering a job with raw tasks or privileged containers
// (core/scheduler/raw.ts) needs `operator:write` on top of the route's
// `job:write`: such a task runs with the agent's own privileges, so whoever may submit one owns the node and,
// through the cluster secret on it, the cluster. Checked by the node that
// received the client's request (an agent checks before it forwards, as it
// does for the route's own permission); a request another node signed and
// passed on, or any request while ACLs are off, carries no identity here
// and passes.
import type { Context } from "hono";
import { parseJobSpec } from "../scheduler/jobspec.ts";
import { hostPrivilegedTasks } from "../scheduler/raw.ts";
import { aclError, requestIdentity } from "./enforce.ts";

export const RAW_PERMISSION = { resource: "operator", segment: "", access: "write" } as const;

/** Throws 403 when the request's token may not submit the raw tasks of the job document in its body. */
export async function requireRawPermission(c: Context): Promise<void> {
  const identity = requestIdentity(c);
  if (!identity) return;
  if (identity.authz.allowed(RAW_PERMISSION.resource, RAW_PERMISSION.segment, RAW_PERMISSION.access)) return;
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const parsed = parseJobSpec(await c.req.raw.clone().text(), type.includes("toml") ? "toml" : "json");
  if (!parsed.ok) return; // the handler (or the leader) answers 400 with every problem
  const found = hostPrivilegedTasks(parsed.job);
  if (found.length === 0) return;
  throw aclError(c, 403, "PERMISSION_DENIED", `Permission denied: task ${found[0]!.task} ${found[0]!.why}, which needs operator:write`);
}
