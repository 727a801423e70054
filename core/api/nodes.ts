// /v1/nodes and /v1/node/{id}: the cluster's nodes with their fingerprinted
// resources, status and (for one node) the latest live sample.
import { createRoute, z } from "@hono/zod-openapi";
import { notFound } from "../http/errors.ts";
import { readScope } from "../acl/read-scope.ts";
import type { NodeRow } from "../store/schema.ts";
import { collectPage } from "../http/paging.ts";
import { PageQuery, PrefixQuery, pageRequest, setPageHeaders } from "./paged-list.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse, NodeView, pathParam } from "./schemas.ts";

export function nodeView(d: CoreApiDeps, n: NodeRow) {
  return { ...n, lastHeartbeatAt: d.membership?.lastHeartbeat(n.id) ?? null };
}

export function nodeRoutes(d: CoreApiDeps) {
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/nodes", tags: ["nodes"], summary: "List nodes by name (?status; ?prefix of the name; ?per_page&next_token; ?filter)",
      request: { query: PageQuery.extend(PrefixQuery.shape).extend({ status: z.enum(["ready", "down"]).optional() }) },
      responses: { ...jsonResponse(z.array(NodeView)), ...errorResponses },
    }),
    handler: (c) => {
      const status = c.req.query("status");
      const scope = readScope(c);
      const page = collectPage({
        params: pageRequest(c, ["s", "s"]),
        scan: (from, limit) => d.state.lists.nodes({ status, prefix: c.req.query("prefix") || undefined }, from, limit),
        keep: (rows) => scope.keep(rows, "node", (n) => n.name),
        keyOf: (n) => [n.name, n.id],
        view: (n) => nodeView(d, n),
      });
      setPageHeaders(c, page);
      return c.json(page.views);
    },
    leader: "read", // an agent holds no node list: it asks a leader
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/node/{id}", tags: ["nodes"], summary: "One node (by id or name) with its latest live sample",
      request: { params: z.object({ id: z.string().min(1).max(200) }) },
      responses: {
        ...jsonResponse(NodeView.extend({ sample: z.object({}).passthrough().nullable() })),
        ...errorResponses,
      },
    }),
    handler: (c) => {
      const id = pathParam(c, "id");
      const n = d.state.getNode(id);
      if (!n) throw notFound(`no node with id or name "${id}"`, "NODE_NOT_FOUND");
      return c.json({ ...nodeView(d, n), sample: d.membership?.latestSample(n.id) ?? null });
    },
    leader: "read", // an agent holds no node list: it asks a leader
  });
}
