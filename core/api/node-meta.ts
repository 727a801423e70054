// Dynamic node meta, Nomad 1.5+'s API:
//   GET  /v1/client/metadata[?node_id=ID]   {"Meta", "Dynamic", "Static"}
//   POST /v1/client/metadata[?node_id=ID]   {"Meta": {"k": "v", "k2": null}, "NodeID"?}  (null unsets)
// The node that runs the agent answers (core/cluster/node-meta.ts keeps its
// dynamic meta in its data dir, and it re-registers so the leaders' node row,
// hence constraints and spreads, has it at once). Any other node, a leader
// included, passes the request on to that node, the way `alloc logs` is.
// ACLs: node read on the target node to read, node write to apply
// (core/acl/route-permissions.ts). The ACL check and the handler find the
// target with the same function (metaTargetNode), so the node the check saw
// is the node the change lands on.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, badRequest } from "../http/errors.ts";
import { once, requestBody } from "../http/json-body.ts";
import { FORWARDED_HEADER, proxyRequest } from "../http/proxy.ts";
import { metaPatchSchema, type NodeMetaStore } from "../cluster/node-meta.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse } from "./schemas.ts";

export const NodeIdQuery = z.object({ node_id: z.string().min(1).max(128).optional() });

const MetaView = z.object({
  Meta: z.record(z.string(), z.string()),
  Dynamic: z.record(z.string(), z.string().nullable()),
  Static: z.record(z.string(), z.string()),
});

const ApplyBody = z.object({
  Meta: metaPatchSchema,
  /** The node, as Nomad's clients send it; ?node_id works too (both: they must agree). */
  NodeID: z.string().max(128).optional(),
}).strict();

/**
 * The node a metadata request names: ?node_id, or (POST, as Nomad's clients
 * send it) the body's NodeID; undefined for the node that answers. Both given
 * and different: a 400, since they cannot both be checked and honoured.
 */
export function metaTargetNode(c: Context): Promise<string | undefined> {
  return once(c, "node-meta.target", async () => {
    const q = new URL(c.req.url).searchParams.get("node_id") ?? undefined;
    if (c.req.method !== "POST") return q;
    const body = await requestBody(c);
    const v = body.kind === "json" && body.value && typeof body.value === "object" ? (body.value as Record<string, unknown>).NodeID : undefined;
    const fromBody = typeof v === "string" && v !== "" ? v : undefined;
    if (q !== undefined && fromBody !== undefined && q !== fromBody) {
      throw badRequest(`?node_id=${q} and the body's NodeID ${JSON.stringify(fromBody)} name different nodes`);
    }
    return q ?? fromBody;
  });
}

export interface NodeMetaRouteOptions {
  /** This node's agent: its meta store and a re-registration with the leaders. Absent on a leader-only node. */
  local?: { store: NodeMetaStore; reregister(): Promise<void> };
}

export function nodeMetaRoutes(d: CoreApiDeps, o: NodeMetaRouteOptions): void {
  const isSelf = (id: string | undefined) => id === undefined || id === d.host.nodeId || id === d.host.nodeName;

  /** The node `id` names, or a 404; from the replicated state on leaders, through a leader on agents. */
  const addressOf = async (c: Context, id: string): Promise<{ id: string; address: string }> => {
    if (!d.forward) {
      const n = d.state.getNode(id);
      if (!n) throw new ApiError(404, "NODE_NOT_FOUND", `no node with id or name "${id}"`);
      return { id: n.id, address: n.address };
    }
    // The client's own token: the leader answers what that token may read.
    const headers = new Headers();
    for (const h of ["x-consul-token", "authorization"]) {
      const v = c.req.header(h);
      if (v !== undefined) headers.set(h, v);
    }
    const res = await d.forward(new Request(`http://leader/v1/node/${encodeURIComponent(id)}`, { headers }));
    if (res.status === 404) throw new ApiError(404, "NODE_NOT_FOUND", `no node with id or name "${id}"`);
    if (!res.ok) throw new ApiError(res.status === 403 ? 403 : 502, res.status === 403 ? "PERMISSION_DENIED" : "LEADER_UNAVAILABLE", `looking up node "${id}": leader answered ${res.status}`);
    const n = (await res.json()) as { id: string; address: string };
    return { id: n.id, address: n.address };
  };

  /** Passes the request to the node that runs the agent; once at most. */
  const passOn = async (c: Context, id: string, body?: unknown): Promise<Response> => {
    if (c.req.header(FORWARDED_HEADER)) throw new ApiError(404, "NODE_NOT_FOUND", `node "${id}" is not this node`);
    const to = await addressOf(c, id);
    const scheme = d.peerHttp?.scheme ?? "http";
    const payload = body === undefined ? undefined : (new TextEncoder().encode(JSON.stringify(body)).buffer as ArrayBuffer);
    try {
      return await proxyRequest(`${scheme}://${to.address}`, c.req.raw, payload, undefined, d.peerHttp?.fetch ?? fetch);
    } catch (err) {
      throw new ApiError(502, "NODE_UNREACHABLE", `node ${to.address} did not answer: ${(err as Error).message}`);
    }
  };

  const localStore = () => {
    if (!o.local) throw badRequest("this node runs no agent: name the node whose meta you mean (?node_id=, or -node-id with corral node meta)", "NO_CLIENT");
    return o.local;
  };

  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "get", path: "/v1/client/metadata", tags: ["nodes"],
      summary: "A node's meta: effective (Meta), applied at run time (Dynamic) and from its config (Static); ?node_id, default this node",
      request: { query: NodeIdQuery },
      responses: { ...jsonResponse(MetaView), ...errorResponses },
    }),
    handler: async (c) => {
      const id = await metaTargetNode(c);
      if (!isSelf(id)) return passOn(c, id!);
      return c.json(localStore().store.view());
    },
  });

  d.routes.add({
    owner: "core",
    leader: "local",
    route: createRoute({
      method: "post", path: "/v1/client/metadata", tags: ["nodes"],
      summary: "Apply dynamic node meta: {\"Meta\": {\"k\": \"v\", \"k2\": null}} (null unsets); kept in the node's data dir across restarts",
      request: { query: NodeIdQuery, body: { required: true, content: { "application/json": { schema: ApplyBody } } } },
      responses: { ...jsonResponse(MetaView), ...errorResponses },
    }),
    handler: async (c) => {
      const id = await metaTargetNode(c);
      const body = c.req.valid("json" as never) as z.infer<typeof ApplyBody>;
      if (!isSelf(id)) return passOn(c, id!, body);
      const local = localStore();
      try {
        local.store.apply(body.Meta);
      } catch (err) {
        if (err instanceof RangeError) throw badRequest(err.message);
        throw err;
      }
      // Saved first: a leader that cannot be reached now learns it at the next join.
      await local.reregister();
      return c.json(local.store.view());
    },
  });
}
