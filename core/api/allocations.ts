// Allocations and drains:
//   GET  /v1/job/{id}/allocations    a job's allocations (blocking ?index&wait)
//   GET  /v1/allocations             every allocation (?namespace, ?job, ?node)
//   GET  /v1/allocation/{id}         one (full id or a unique prefix of 4+ characters), with its tasks
//   PUT  /v1/allocation/{id}/stop    stop it; the scheduler places a replacement (alloc-stop.ts)
//   GET  /v1/node/{id}/allocations   a node's allocations: what its agent runs (blocking)
//   POST /v1/node/{id}/drain         {"enable"?: true, "deadline"?: "10m"}: migrate its allocations away
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, statusForCode } from "../http/errors.ts";
import { parseGoDurationMs } from "../http/consul.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";
import { BlockingQuery, Loose, NamespaceQuery, allocView, allocViews, blocking, namespaceOf } from "./job-views.ts";
import { routedAdder } from "./jobs.ts";
import { readScope } from "../acl/read-scope.ts";
import { allocStopRoutes } from "./alloc-stop.ts";
import { collectPage } from "../http/paging.ts";
import { PageQuery, pageRequest, setPageHeaders } from "./paged-list.ts";
import { NodeAllocAnswers, type AllocStamp } from "./node-alloc-answers.ts";
import { nodeAllocFast } from "./node-alloc-fast.ts";

const tags = ["allocations"];
const IdParam = z.object({ id: z.string().min(1).max(256) });
const responses = { ...jsonResponse(Loose), ...errorResponses };

const DrainBody = z.object({
  enable: z.boolean().default(true),
  /** After this, allocations still on the node are stopped at once: "30s", "10m"; "0s" or absent = no deadline. */
  deadline: z.string().max(32).optional(),
}).strict();

function nodeOr404(d: CoreApiDeps, idOrName: string) {
  const n = d.state.getNode(idOrName);
  if (!n) throw new ApiError(404, "NODE_NOT_FOUND", `no node with id or name "${idOrName}"`);
  return n;
}

export function allocationRoutes(d: CoreApiDeps): void {
  const add = routedAdder(d);
  nodeRoutes(d, add);
  allocStopRoutes(d, add);

  add(createRoute({
    method: "get", path: "/v1/job/{id}/allocations", tags, summary: "A job's allocations (blocking with ?index&wait)",
    request: { params: z.object({ id: z.string().min(1).max(128) }), query: NamespaceQuery.extend(BlockingQuery.shape) }, responses,
  }), async (c) => {
    const ns = namespaceOf(c);
    const jobId = pathParam(c, "id");
    const { index, waitMs } = blocking(c);
    const out = await d.state.blocking({ tables: ["allocations"], minIndex: index, waitMs, signal: c.req.raw.signal }, () => {
      const list = d.state.jobs.listAllocs({ namespace: ns, jobId });
      return { index: Math.max(1, ...list.map((a) => a.modifyIndex)), value: list };
    });
    c.header("X-Corral-Index", String(out.index));
    return c.json(allocViews(out.value, d.state));
  }, true);

  add(createRoute({
    method: "get", path: "/v1/allocations", tags, summary: "Allocations in creation order (?namespace, ?job, ?node; ?per_page&next_token; ?filter)",
    request: { query: NamespaceQuery.extend(PageQuery.shape).extend({ job: z.string().max(128).optional(), node: z.string().max(256).optional() }) }, responses,
  }), (c) => {
    const q = new URL(c.req.url).searchParams;
    const node = q.get("node");
    const scope = readScope(c);
    const params = pageRequest(c, ["n", "s"]);
    // A node the token may not read answers as one that does not exist (no 200-vs-404 on its name).
    const nodeRow = node ? d.state.getNode(node) : undefined;
    if (node && (!nodeRow || !scope.can("node", nodeRow.name))) throw new ApiError(404, "NODE_NOT_FOUND", `no node with id or name "${node}"`);
    const filter = { namespace: q.has("namespace") ? namespaceOf(c) : undefined, jobId: q.get("job") ?? undefined, nodeId: nodeRow?.id };
    const page = collectPage({
      params,
      scan: (from, limit) => d.state.lists.allocs(filter, from, limit),
      keep: (rows) => scope.keep(rows, "job", (a) => a.jobId),
      keyOf: (a) => [a.createIndex, a.id],
      view: (a) => allocView(a, d.state),
    });
    setPageHeaders(c, page);
    return c.json(page.views);
  }, true);

  add(createRoute({
    method: "get", path: "/v1/allocation/{id}", tags, summary: "One allocation with its tasks and task states (id or unique prefix)",
    request: { params: IdParam }, responses,
  }), (c) => {
    const a = d.state.jobs.getAlloc(pathParam(c, "id"));
    if (!a) throw new ApiError(404, "ALLOC_NOT_FOUND", `no allocation matches "${pathParam(c, "id")}"`);
    return c.json(allocView(a, d.state, true));
  }, true);

}

/** What agents read (their allocations) and drains. */
function nodeRoutes(d: CoreApiDeps, add: ReturnType<typeof routedAdder>): void {
  const answers = new NodeAllocAnswers({
    stamps: (nodeId) => d.state.jobs.nodeAllocStamps(nodeId),
    rows: (nodeId) => d.state.jobs.listAllocs({ nodeId }),
    row: (id) => d.state.jobs.getAlloc(id),
    // The name only, remembered until the nodes table changes (nodeStatus): the node's full row (attributes,
    // resources) decoded per answer was an eighth of the answer's cost. By id alone: a path naming the node by
    // name has no allocations under that id, so nothing is named either way.
    nodeName: (nodeId) => d.state.nodeStatus(nodeId)?.name ?? null,
    view: (row, name) => allocView(row, d.state, true, () => name),
  }, undefined, d.state.onAllocChanges !== undefined);
  // Told what each entry changes before any answer reads it: a kept node's answer reads only what changed.
  d.state.onAllocChanges?.((change) => answers.changed(change));
  // The node's allocations as the agent is sent them: its blocking read on the node's key, and the answer's index.
  // `keep` cuts the allocations to the jobs a token may read; `everyJob`: it reads them all (then the index counts deletions too).
  const read = async (nodeId: string, index: number, waitMs: number, signal: AbortSignal, keep: (stamps: AllocStamp[]) => AllocStamp[], everyJob: boolean) => {
    // Keyed by node: only entries that change this node's allocations wake it (core/state/alloc-nodes-changed.ts).
    // Each allocation is read and serialized again only when it changed (node-alloc-answers.ts).
    const out = await d.state.blocking({ tables: [{ table: "allocations", key: nodeId }], minIndex: index, waitMs, signal }, () => {
      const { all, kept, parts } = answers.answer(nodeId, keep);
      // nodeAllocIndex, from the rows just read: the larger of their modify indexes and the node's last deletion.
      const index = everyJob ? Math.max(1, d.state.jobs.nodeAllocDeleteIndex(nodeId), ...all.map((a) => a.modifyIndex)) : Math.max(1, ...kept.map((a) => a.modifyIndex));
      return { index, value: parts };
    });
    // The bytes c.json(allocViews(rows)) wrote: an array's JSON is its elements' JSON joined with commas.
    return { index: out.index, body: `[${out.value.join(",")}]` };
  };
  // No ACL acts on the fast path's requests (it is taken only while none is configured): every job is read.
  const everything = (stamps: AllocStamp[]) => stamps;
  d.routes.add({
    owner: "core",
    leader: "read",
    route: createRoute({
      method: "get", path: "/v1/node/{id}/allocations", tags,
      summary: "A node's allocations with their tasks: what its agent runs or stops (blocking with ?index&wait)",
      request: { params: IdParam, query: BlockingQuery }, responses,
    }),
    handler: async (c) => {
      const { index, waitMs } = blocking(c);
      // The route needs node read; each allocation (its job's task specs, env included) needs job read on its job.
      // A token that cannot read every job gets the index of what it sees: a hidden job's change must not move it.
      const scope = readScope(c);
      const keep = (stamps: AllocStamp[]) => scope.keep(stamps, "job", (a) => a.jobId);
      const out = await read(pathParam(c, "id"), index, waitMs, c.req.raw.signal, keep, scope.seesAll("job"));
      c.header("X-Corral-Index", String(out.index));
      c.header("Content-Type", "application/json");
      return c.body(out.body);
    },
    // The agents' own reads of their allocations, answered before hono on the leader (core/api/node-alloc-fast.ts).
    fast: nodeAllocFast({ status: () => d.replicator?.status(), params: IdParam, read: (nodeId, index, waitMs, signal) => read(nodeId, index, waitMs, signal, everything, true) }),
  });

  add(createRoute({
    method: "post", path: "/v1/node/{id}/drain", tags: ["nodes"],
    summary: "Drain a node: no new placements, its allocations migrate (update.max_parallel at a time); {\"enable\": false} ends it",
    request: { params: IdParam, body: { required: false, content: { "application/json": { schema: DrainBody } } } }, responses,
  }), async (c) => {
    const node = nodeOr404(d, pathParam(c, "id"));
    const body = ((c.req.valid("json" as never) as z.infer<typeof DrainBody> | undefined) ?? { enable: true });
    const deadlineMs = body.deadline ? parseGoDurationMs(body.deadline) : 0;
    if (deadlineMs === undefined) throw new ApiError(400, "INVALID_INPUT", `deadline must be a duration such as "10m", not ${JSON.stringify(body.deadline)}`);
    const out = await d.propose({ type: "DrainNode", v: 1, at: Date.now(), nodeId: node.id, enable: body.enable ?? true, deadlineMs: Math.round(deadlineMs) });
    if (!out.result.ok) throw new ApiError(statusForCode(out.result.code), out.result.code, out.result.message);
    return c.json({ nodeId: node.id, draining: body.enable ?? true, deadlineMs: Math.round(deadlineMs), index: out.index });
  });
}
