// `corral alloc exec`: run a command inside a running task.
//   POST /v1/client/allocation/{id}/exec
//     {"Command": ["sh","-c","..."], "Task"?: "web", "Stdin"?: "text", "TimeoutSeconds"?: 3600}
// answers 200 with newline-delimited JSON frames as the command writes
// (exec-session.ts: Nomad's exec frames, base64 data, the exit code last).
// Not a WebSocket: stdin is given whole in the body and there is no
// terminal. A POST on purpose: the browser guard (core/http/browser-guard.ts)
// refuses cross-site POSTs, so no web page can exec on a node.
// Any node passes the request on to the node running the allocation, as
// signal and restart are (operate-routes.ts). Needs alloc_exec:write on the
// allocation's job (core/acl/route-permissions.ts); a raw task runs with the
// agent's privileges, so a command in it also needs operator:write, checked
// here, on the node that knows the task. The audit log records the request
// as every write (core/acl/audit.ts).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, isPrivilegedTask, isRawTask, type PluginContext, requestIdentity } from "../../core/sdk/index.ts";
import type { NodeAlloc } from "./alloc-runner.ts";
import { bodyOf, onRunningNode, type OperateRouteDeps } from "./operate-routes.ts";
import { execStream } from "./exec-session.ts";

const DEFAULT_TIMEOUT_S = 3600;
const MAX_TIMEOUT_S = 86_400;

/** A command's words (never through a shell); the WebSocket route (exec-ws.ts) takes the same. */
export const ExecCommand = z.array(z.string().max(64 * 1024)).min(1).max(1024)
  .refine((a) => a[0] !== "", { message: "the command's first word is empty" })
  .refine((a) => a.every((w) => !w.includes("\0")), { message: "a word of the command holds a NUL byte" });

export const ExecBody = z.object({
  Command: ExecCommand,
  Task: z.string().min(1).max(128).optional(),
  Stdin: z.string().max(1024 * 1024).optional(),
  TimeoutSeconds: z.number().int().min(1).max(MAX_TIMEOUT_S).optional(),
}).strict();

/**
 * A raw task (isRawTask: raw_exec, or user "root") runs with the agent's own
 * privileges, and a privileged container is root on the node: a command in
 * either needs operator:write too, as submitting one
 * does (core/acl/raw-permission.ts). Checked by the node that received the
 * client's request, the one that resolved its token (a node passing it on
 * signs it; the next node trusts that check). Without ACLs no identity: passes.
 * With no task named, any such task of the allocation counts.
 */
export function requireRawPermission(alloc: NodeAlloc, task: string | undefined, who: ReturnType<typeof requestIdentity>): void {
  if (!who || who.authz.allowed("operator", "", "write")) return;
  const named = alloc.groupSpec.tasks.filter((t) => task === undefined || t.name === task);
  const raw = named.find(isRawTask);
  if (raw) throw new ApiError(403, "PERMISSION_DENIED", `Permission denied: task "${raw.name}" runs in raw mode (driver raw_exec or user "root", the agent's own privileges): a command in it needs operator:write as well as alloc_exec:write`);
  const privileged = named.find(isPrivilegedTask);
  if (privileged) throw new ApiError(403, "PERMISSION_DENIED", `Permission denied: task "${privileged.name}" is a privileged container (root on the node): a command in it needs operator:write as well as alloc_exec:write`);
}

export function execRoutes(d: OperateRouteDeps): void {
  d.ctx.route(createRoute({
    method: "post", path: "/v1/client/allocation/{id}/exec", tags: ["allocations"],
    summary: "Run a command inside a running task (its sandbox and user, or its container); output streamed as NDJSON frames, exit code last; any node passes it on to the one running it",
    request: {
      params: z.object({ id: z.string().min(1).max(256) }),
      body: { required: true, content: { "application/json": { schema: ExecBody } } },
    },
    responses: { 200: { description: "NDJSON frames: {stdout|stderr:{data:base64}} then {exited:true,result:{exit_code}}", content: { "application/x-ndjson": { schema: z.string() } } } },
  }), async (c: Context) => {
    const value = await bodyOf(c, ExecBody);
    const who = requestIdentity(c);
    const at = await onRunningNode(d, c, (alloc) => requireRawPermission(alloc, value.Task, who));
    if (at instanceof Response) return at;
    const plan = at.runner.execPlan(value.Task, value.Command);
    if (plan.kind === "invalid") throw new ApiError(400, "INVALID_INPUT", plan.error);
    if (plan.kind === "refused") throw new ApiError(409, "ALLOC_NOT_RUNNING", plan.error);
    d.ctx.log.info("alloc exec", { alloc: at.alloc.id, task: value.Task, command: value.Command.join(" ").slice(0, 200), accessor: who?.accessorId });
    const body = execStream({
      command: plan.command, args: plan.args, cwd: plan.cwd, env: plan.env, ...(plan.runAs ? { runAs: plan.runAs } : {}), ...(plan.inside ? { inside: plan.inside } : {}),
      stdin: new TextEncoder().encode(value.Stdin ?? ""), timeoutMs: (value.TimeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000, signal: c.req.raw.signal,
    });
    return new Response(body, { status: 200, headers: { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-content-type-options": "nosniff" } });
  }, { leader: "local" });
}
