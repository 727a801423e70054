// GET /v1/alloc/{id}/logs?task=&type=stdout|stderr&follow=true
// A task's output, streamed as text. The node that runs the allocation
// answers from its files; any other node (a leader, another agent) looks up
// where the allocation runs and passes the request on to that node as is,
// so `corral alloc logs` works against any address. A request that was
// already passed on is never passed on again.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, FORWARDED_HEADER, type PluginContext, proxyRequest } from "../../core/sdk/index.ts";
import { allocDir, type NodeAlloc } from "./alloc-runner.ts";
import { readLogs, type Stream } from "./logs.ts";

const Query = z.object({
  task: z.string().max(128).optional(),
  type: z.enum(["stdout", "stderr"]).optional(),
  follow: z.enum(["true", "false", ""]).optional(),
});

export interface LogRouteDeps {
  ctx: PluginContext<unknown>;
  allocsDir: string;
  /** Allocation as this node knows it (full id or unique prefix), when it runs (or ran) here. */
  local(idOrPrefix: string): NodeAlloc | undefined;
}

/** The allocation and the address of its node, from the replicated state (leaders) or through a leader (agents). */
export async function locate(ctx: PluginContext<unknown>, id: string): Promise<{ alloc: NodeAlloc; address: string }> {
  if (!ctx.forward) {
    const a = ctx.state.jobs.getAlloc(id);
    const node = a ? ctx.state.getNode(a.nodeId) : undefined;
    if (!a || !node) throw new ApiError(404, "ALLOC_NOT_FOUND", `no allocation matches "${id}"`);
    return { alloc: a as unknown as NodeAlloc, address: node.address };
  }
  const get = async (path: string) => {
    const res = await unreachable("no leader reachable", () => ctx.forward!(new Request(`http://leader${path}`)));
    if (res.status === 404) throw new ApiError(404, "ALLOC_NOT_FOUND", `no allocation matches "${id}"`);
    if (!res.ok) throw new ApiError(502, "LEADER_UNAVAILABLE", `leader answered ${res.status}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const alloc = (await get(`/v1/allocation/${encodeURIComponent(id)}`)) as unknown as NodeAlloc;
  const node = await get(`/v1/node/${encodeURIComponent(alloc.nodeId)}`);
  return { alloc, address: String(node.address) };
}

/**
 * A transport failure (node down, TLS refused) as a 502 answer. Anything but
 * an ApiError thrown by a plugin's handler marks the plugin failed and
 * unmounts it (core/plugins/context.ts): one client asking for the logs of an
 * allocation on a dead node must not stop this node's exec plugin.
 */
export async function unreachable<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(502, "NODE_UNREACHABLE", `${what}: ${(err as Error)?.message ?? String(err)}`);
  }
}

function pickTask(alloc: NodeAlloc, task: string | undefined): string {
  const names = alloc.groupSpec.tasks.map((t) => t.name);
  if (task) {
    if (!names.includes(task)) throw new ApiError(400, "INVALID_INPUT", `allocation has no task "${task}" (tasks: ${names.join(", ")})`);
    return task;
  }
  if (names.length !== 1) throw new ApiError(400, "INVALID_INPUT", `allocation has several tasks; pass ?task= one of ${names.join(", ")}`);
  return names[0]!;
}

export function logRoutes(d: LogRouteDeps): void {
  d.ctx.route(createRoute({
    method: "get", path: "/v1/alloc/{id}/logs", tags: ["allocations"],
    summary: "A task's stdout or stderr (?task, ?type=stdout|stderr, ?follow=true streams new output); any node passes it on to the one running the allocation",
    request: { params: z.object({ id: z.string().min(1).max(256) }), query: Query },
    responses: { 200: { description: "The log text", content: { "text/plain": { schema: z.string() } } } },
  }), async (c: Context) => {
    const id = c.req.param("id")!;
    const q = new URL(c.req.url).searchParams;
    const stream = (q.get("type") ?? "stdout") as Stream;
    const follow = q.get("follow") === "true";
    // A prefix is resolved as the ACL check resolved it (the replicated state, unique cluster-wide), not among
    // this node's allocations only: a prefix unique here but ambiguous there was checked as job "" (issue 13).
    let alloc = d.local(id);
    if (alloc && alloc.id !== id) alloc = undefined;
    if (!alloc) {
      const where = await locate(d.ctx, id);
      if (where.alloc.nodeId !== d.ctx.host.nodeId) {
        // Passed on once at most: a node that was handed the request answers or says no.
        if (c.req.header(FORWARDED_HEADER)) throw new ApiError(404, "ALLOC_NOT_FOUND", `allocation "${id}" does not run on this node`);
        // With the cluster's scheme and TLS trust: plain http to a TLS node fails, and a client's token must not cross in clear.
        const to = where.address;
        return unreachable(`node ${to} running allocation ${where.alloc.id} did not answer`, () =>
          d.ctx.forwardTo ? d.ctx.forwardTo(to, c.req.raw) : proxyRequest(`http://${to}`, c.req.raw));
      }
      alloc = where.alloc;
    }
    if (!existsSync(allocDir(d.allocsDir, alloc.id))) throw new ApiError(404, "LOGS_NOT_FOUND", `allocation ${alloc.id} has no logs on this node (never started, or cleaned up)`);
    const task = pickTask(alloc, q.get("task") ?? undefined);
    const body = readLogs(join(allocDir(d.allocsDir, alloc.id), "logs"), task, stream, { follow, signal: c.req.raw.signal });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff", "cache-control": "no-store" } });
  });
}
