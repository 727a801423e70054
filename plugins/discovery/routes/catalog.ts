// /v1/catalog/* (reference §5) and /v1/agent/members (§4.4): reads of the
// replicated catalog. Every one blocks on ?index and carries X-Consul-Index
// (except datacenters and members, which Consul does not block either).
import { createRoute, z } from "@hono/zod-openapi";
import { consulError } from "../../../core/http/errors.ts";
import { checkDatacenter, consulMember } from "../../../core/http/consul.ts";
import type { PluginContext } from "../../../core/plugins/types.ts";
import { readScope } from "../../../core/acl/read-scope.ts";
import { CatalogDigests } from "../digest.ts";
import { BLOCKING, blockingRead, cachedJsonRead, CATALOG_TABLES, filtered, filterParam, filterValues, jsonOk, localRoute, nodeMetaFilter, pathParam, query, QueryCache, readRoute, searchParams } from "../http.ts";
import { catalogServiceView, FilterTypes, MemberSchema, nodeView, NodeSchema, serviceNodeView, ServiceNodeSchema, AgentServiceSchema } from "../views.ts";

const tags = ["catalog"];

export function catalogRoutes(ctx: PluginContext<unknown>): void {
  const catalog = () => ctx.state.catalog;
  const cache = new QueryCache();
  const digests = new CatalogDigests(ctx.state);

  localRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/datacenters", tags, summary: "Known datacenters (this one)",
    responses: jsonOk(z.array(z.string())),
  }), (c) => c.json([ctx.host.datacenter]));

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/nodes", tags, summary: "Every node of the catalog; ?node-meta=k:v, ?filter=; blocks on ?index",
    request: { query: query(...BLOCKING, "near") }, responses: jsonOk(z.array(NodeSchema)),
  }), async (c) => {
    const metaOk = nodeMetaFilter(c);
    const filter = await filterParam(c, FilterTypes.node);
    const scope = readScope(c);
    return cachedJsonRead(ctx, cache, c, CATALOG_TABLES, () => {
      const r = catalog().nodes();
      const value = scope.keep(r.value, "node", (n) => n.name).filter((n) => metaOk(n.meta)).map(nodeView);
      return { index: r.index, value: filtered(value, filter) };
    }, ["node"]);
  });

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/services", tags,
    summary: "Service names with their unique tags, whatever their health; ?filter= (on each instance as a ServiceNode); blocks on ?index",
    request: { query: query(...BLOCKING) }, responses: jsonOk(z.record(z.string(), z.array(z.string()))),
  }), async (c) => {
    if (searchParams(c).get("node-meta")) throw consulError(400, "node-meta is not supported on /v1/catalog/services");
    const filter = await filterParam(c, FilterTypes.serviceNode);
    const scope = readScope(c);
    // Names the token may not read are dropped before the filter sees any instance of them.
    const readable = (all: Record<string, string[]>) => scope.keep(Object.keys(all), "service", (k) => k);
    if (!filter) {
      return cachedJsonRead(ctx, cache, c, ["services", "catalog_tombstones"], () => {
        const r = catalog().services();
        return { index: r.index, value: Object.fromEntries(readable(r.value).map((k) => [k, r.value[k]!])) };
      }, ["service"]);
    }
    // As Consul: the filter sees each instance as a ServiceNode (catalog/service's element); the
    // names with a matching instance are listed with those instances' tags. The index stays the
    // unfiltered list's; node rows are in the cache version since NodeMeta/Address can match.
    return cachedJsonRead(ctx, cache, c, CATALOG_TABLES, () => {
      const r = catalog().services();
      const views: ReturnType<typeof serviceNodeView>[] = [];
      const seen = new Set<string>();
      for (const name of readable(r.value)) {
        const lower = name.toLowerCase();
        if (seen.has(lower)) continue; // serviceInstances matches names case-insensitively
        seen.add(lower);
        for (const i of catalog().serviceInstances(name).value) views.push(serviceNodeView(i.node, i.service));
      }
      const out: Record<string, Set<string>> = {};
      for (const v of filter.select(views)) {
        const tags = (out[v.ServiceName] ??= new Set());
        for (const t of v.ServiceTags) tags.add(t);
      }
      const value = Object.fromEntries(Object.keys(out).sort().map((k) => [k, [...out[k]!].sort()]));
      return { index: r.index, value };
    }, ["service"]);
  });

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/service/{service{.*}}", tags,
    summary: "Every instance of a service ([] when unknown); ?tag= (repeatable, all must match), ?filter=; blocks on ?index",
    request: { params: z.object({ service: z.string() }), query: query(...BLOCKING, "tag", "near") },
    responses: jsonOk(z.array(ServiceNodeSchema)),
  }), async (c) => {
    const name = pathParam(c, "service");
    if (!name) throw consulError(400, "Missing service name");
    const metaOk = nodeMetaFilter(c);
    const tagList = searchParams(c).getAll("tag");
    const filter = await filterParam(c, FilterTypes.serviceNode);
    return cachedJsonRead(ctx, cache, c, CATALOG_TABLES, () => {
      const r = catalog().serviceInstances(name, { tags: tagList });
      const value = r.value.filter((i) => metaOk(i.node.meta)).map((i) => serviceNodeView(i.node, i.service));
      return { index: r.index, value: filtered(value, filter) };
    });
  });

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/node/{node{.*}}", tags,
    summary: "A node and its services (null when unknown); ?filter= (on the services); blocks on ?index",
    request: { params: z.object({ node: z.string() }), query: query(...BLOCKING) },
    responses: jsonOk(z.object({ Node: NodeSchema, Services: z.record(z.string(), AgentServiceSchema) }).nullable()),
  }), async (c) => {
    const name = pathParam(c, "node");
    if (!name) throw consulError(400, "Missing node name");
    // As Consul: the filter applies to the node's services.
    const filter = await filterParam(c, FilterTypes.catalogService);
    const r = await blockingRead(ctx, c, CATALOG_TABLES, () => catalog().node(name));
    if (!r) return c.json(null);
    // The route needs node read on the node; each of its services needs service read on its name (Consul's filterNodeServices).
    const readable = readScope(c).keep(r.services, "service", (s) => s.name);
    const services = Object.fromEntries(readable.map((s) => [s.serviceId, catalogServiceView(s)]));
    return c.json({ Node: nodeView(r.node), Services: filterValues(services, filter) });
  });

  // corral's own (not Consul's): what anti-entropy compares before it writes.
  readRoute(ctx, createRoute({
    method: "get", path: "/v1/discovery/digest/{node}", tags: ["discovery"],
    summary: "Digest of a node's registrations in the catalog (by node ID); agents compare it with their own before a full sync",
    request: { params: z.object({ node: z.string().max(128) }) },
    responses: jsonOk(z.object({ node: z.string(), digest: z.string(), services: z.number(), checks: z.number() })),
  }), (c) => {
    const node = pathParam(c, "node");
    const d = digests.get(node);
    return c.json({ node, digest: d.digest, services: d.services, checks: d.checks });
  });

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/agent/members", tags: ["agent"],
    summary: "Cluster members as Consul's Serf members (Status 1 alive, 4 failed)",
    request: { query: query("wan", "segment") }, responses: jsonOk(z.array(MemberSchema)),
  }), (c) => {
    checkDatacenter(c, ctx.host.datacenter);
    const list = catalog().nodes().value.map((n) =>
      consulMember({ name: n.name, addr: n.address, port: n.port, datacenter: n.datacenter, role: "agent", id: n.id, alive: n.status === "ready" }),
    );
    return c.json(list);
  });
}
