// Operating a running allocation (Nomad's client allocation API):
//   PUT|POST /v1/client/allocation/{id}/restart  {"TaskName"?, "AllTasks"?}
//   PUT|POST /v1/client/allocation/{id}/signal   {"Signal"?, "Task"?}
// The node that runs the allocation acts on its task processes; any other
// node (a leader, another agent) finds where it runs and passes the request
// on once, with the client's token, exactly as `alloc logs` is passed on
// (routes.ts). Every node checks the token itself: job write on the
// allocation's job (core/acl/route-permissions.ts).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, FORWARDED_HEADER, type PluginContext, proxyRequest, requestBody } from "../../core/sdk/index.ts";
import type { AllocRunner, NodeAlloc } from "./alloc-runner.ts";
import { locate, unreachable } from "./routes.ts";
import { ALLOWED_SIGNALS, DEFAULT_SIGNAL, parseSignal } from "../../core/sdk/index.ts";

const TaskName = z.string().min(1).max(128);
/** Nomad's body (TaskName, AllTasks); with neither, every running task restarts. */
export const RestartBody = z.object({ TaskName: TaskName.optional(), AllTasks: z.boolean().optional() }).strict()
  .refine((b) => !(b.TaskName && b.AllTasks), { message: "TaskName and AllTasks exclude each other" });
/** Nomad's body (Signal, Task); without Task every running task gets the signal. */
export const SignalBody = z.object({ Signal: z.string().max(32).optional(), Task: TaskName.optional() }).strict();

export interface OperateRouteDeps {
  ctx: PluginContext<unknown>;
  /** The runner of an allocation on this node, by full id. */
  runner(allocId: string): AllocRunner | undefined;
}

/**
 * The JSON body (absent or empty: {}), validated; a clear 400 otherwise.
 * Read through the route table's one parse (core/http/json-body.ts: duplicate
 * keys already refused).
 */
export async function bodyOf<T extends z.ZodTypeAny>(c: Context, schema: T): Promise<z.infer<T>> {
  const body = await requestBody(c);
  if (body.kind === "invalid") throw new ApiError(400, "INVALID_JSON", `the body is not valid JSON: ${body.message}`);
  const raw = body.kind === "json" ? body.value : {};
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ApiError(400, "INVALID_INPUT", `${at}${issue.message}`);
  }
  return parsed.data;
}

/**
 * The allocation's runner on this node, or the answer of the node that runs
 * it. `check` sees the allocation first, wherever it runs. A prefix is resolved cluster-wide (as the ACL check resolved it), not
 * among this node's allocations only.
 */
export async function onRunningNode(d: OperateRouteDeps, c: Context, check?: (alloc: NodeAlloc) => void): Promise<{ runner: AllocRunner; alloc: NodeAlloc } | Response> {
  const id = c.req.param("id")!;
  const here = d.runner(id);
  if (here) {
    check?.(here.alloc);
    return { runner: here, alloc: here.alloc };
  }
  const where = await locate(d.ctx, id);
  // On the node that received the client's request (it holds the token's identity), before passing it on.
  check?.(where.alloc);
  if (where.alloc.nodeId !== d.ctx.host.nodeId) {
    if (c.req.header(FORWARDED_HEADER)) throw new ApiError(404, "ALLOC_NOT_FOUND", `allocation "${id}" does not run on this node`);
    // With the cluster's scheme and TLS trust, the client's token (checked there again) and its body
    // as the one parse read it: the route's validator has consumed the request's own stream.
    const text = (await requestBody(c)).text;
    const req = new Request(c.req.raw.url, { method: c.req.method, headers: c.req.raw.headers, body: text === "" ? undefined : text, signal: c.req.raw.signal });
    const to = where.address;
    return unreachable(`node ${to} running allocation ${where.alloc.id} did not answer`, () =>
      d.ctx.forwardTo ? d.ctx.forwardTo(to, req) : proxyRequest(`http://${to}`, req));
  }
  const runner = d.runner(where.alloc.id);
  if (!runner) throw new ApiError(409, "ALLOC_NOT_RUNNING", `allocation ${where.alloc.id} is not running (${where.alloc.clientStatus})`);
  return { runner, alloc: where.alloc };
}

function checkTask(alloc: NodeAlloc, task: string | undefined): void {
  if (task === undefined) return;
  const names = alloc.groupSpec.tasks.map((t) => t.name);
  if (!names.includes(task)) throw new ApiError(400, "INVALID_INPUT", `allocation has no task "${task}" (tasks: ${names.join(", ")})`);
}

function notRunning(alloc: NodeAlloc, task: string | undefined): ApiError {
  return new ApiError(409, "ALLOC_NOT_RUNNING", task ? `task "${task}" of allocation ${alloc.id} is not running` : `allocation ${alloc.id} has no running task`);
}

export function operateRoutes(d: OperateRouteDeps): void {
  const params = z.object({ id: z.string().min(1).max(256) });
  const answer = { 200: { description: "The tasks acted on", content: { "application/json": { schema: z.object({ allocId: z.string(), tasks: z.array(z.string()) }) } } } };
  for (const method of ["put", "post"] as const) {
    d.ctx.route(createRoute({
      method, path: "/v1/client/allocation/{id}/restart", tags: ["allocations"],
      summary: "Restart an allocation's tasks in place (TaskName: one; AllTasks: every task, prestart ones again first); any node passes it on to the one running it",
      request: { params, body: { required: false, content: { "application/json": { schema: RestartBody } } } }, responses: answer,
    }), async (c: Context) => {
      const value = await bodyOf(c, RestartBody);
      const at = await onRunningNode(d, c);
      if (at instanceof Response) return at;
      checkTask(at.alloc, value.TaskName);
      const tasks = await at.runner.restart(value.TaskName, value.AllTasks ?? false, "restart requested by an operator");
      if (tasks.length === 0) throw notRunning(at.alloc, value.TaskName);
      return c.json({ allocId: at.alloc.id, tasks });
    }, { leader: "local" }); // the node running the allocation answers (onRunningNode passes it on)
    d.ctx.route(createRoute({
      method, path: "/v1/client/allocation/{id}/signal", tags: ["allocations"],
      summary: `Send a signal to an allocation's tasks (Signal: one of ${ALLOWED_SIGNALS.join(", ")}; default ${DEFAULT_SIGNAL}); any node passes it on to the one running it`,
      request: { params, body: { required: false, content: { "application/json": { schema: SignalBody } } } }, responses: answer,
    }), async (c: Context) => {
      const value = await bodyOf(c, SignalBody);
      const sig = value.Signal === undefined || value.Signal === "" ? DEFAULT_SIGNAL : parseSignal(value.Signal);
      if (!sig) throw new ApiError(400, "INVALID_SIGNAL", `unknown or disallowed signal ${JSON.stringify(value.Signal)} (allowed: ${ALLOWED_SIGNALS.join(", ")})`);
      const at = await onRunningNode(d, c);
      if (at instanceof Response) return at;
      checkTask(at.alloc, value.Task);
      const tasks = at.runner.signal(sig, value.Task);
      if (tasks.length === 0) throw notRunning(at.alloc, value.Task);
      return c.json({ allocId: at.alloc.id, tasks, signal: sig });
    }, { leader: "local" });
  }
}
