// /v1/catalog/* (reference §5) and /v1/agent/members (§4.4): reads of the
// replicated catalog. Every one blocks on ?index and carries X-Consul-Index
// (except datacenters and members, which Consul does not block either).
import { createRoute, z } from "@hono/zod-openapi";
import {
  ApiError, checkDatacenter, consulError, consulMember, type PluginContext, readScope, serviceCatalogTopics,
} from "../../../core/sdk/index.ts";
import { CatalogDigests } from "../digest.ts";
import { type FastReads, sharedReadFast } from "../read-fast.ts";
import { instancesIndex, readableInstances, visibleIndex, BLOCKING, blockingRead, cachedJsonRead, CATALOG_TABLES, filtered, filterParam, filterValues, jsonOk, localRoute, nodeMetaFilter, pathParam, query, QueryCache, readRoute, searchParams } from "../http.ts";
import { catalogServiceView, FilterTypes, MemberSchema, nodeView, NodeSchema, serviceNodeView, ServiceNodeSchema, AgentServiceSchema } from "../views.ts";

const tags = ["catalog"];

/** What /v1/catalog/services without ?filter is read from (names and tags: no node rows). */
const SERVICE_LIST_TABLES = ["services", "catalog_tombstones"] as const;

/** `cache`: the plugin's one answer cache (index.ts), shared with the health routes; `fastReads` counts its fast path's answers. */
export function catalogRoutes(ctx: PluginContext<unknown>, cache: QueryCache, fastReads: FastReads): void {
  const catalog = () => ctx.state.catalog;
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
    const everyNode = scope.seesAll("node");
    return cachedJsonRead(ctx, cache, c, CATALOG_TABLES, () => {
      const r = catalog().nodes();
      const readable = scope.keep(r.value, "node", (n) => n.name);
      const value = readable.filter((n) => metaOk(n.meta)).map(nodeView);
      return { index: everyNode ? r.index : visibleIndex(readable), value: filtered(value, filter) };
    }, ["node"]);
  });

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/catalog/services", tags,
    summary: "Service names with their unique tags, whatever their health; ?filter= (on each instance as a ServiceNode); blocks on ?index",
    request: { query: query(...BLOCKING) }, responses: jsonOk(z.record(z.string(), z.array(z.string()))),
  }), async (c) => {
    if (searchParams(c).get("node-meta")) throw consulError(400, "node-meta is not supported on /v1/catalog/services");
    const filter = await filterParam(c, FilterTypes.serviceNode);
    // Names the token may not read are left out by the reader itself, index included, before
    // the filter sees any instance of them.
    const scope = readScope(c);
    const visible = scope.seesAll("service") ? undefined : (name: string) => scope.can("service", name);
    if (visible) scope.hid();
    if (!filter) return cachedJsonRead(ctx, cache, c, SERVICE_LIST_TABLES, () => catalog().services(visible), ["service"]);
    // As Consul: the filter sees each instance as a ServiceNode (catalog/service's element); the
    // names with a matching instance are listed with those instances' tags. The index stays the
    // unfiltered list's; node rows are in the cache version since NodeMeta/Address can match.
    return cachedJsonRead(ctx, cache, c, CATALOG_TABLES, () => {
      const r = catalog().services(visible);
      const views: ReturnType<typeof serviceNodeView>[] = [];
      const seen = new Set<string>();
      for (const name of Object.keys(r.value)) {
        const lower = name.toLowerCase();
        if (seen.has(lower)) continue; // serviceInstances matches names case-insensitively...
        seen.add(lower);
        for (const i of catalog().serviceInstances(name).value) {
          if (!visible || visible(i.service.name)) views.push(serviceNodeView(i.node, i.service)); // ...so each instance by its own name
        }
      }
      const out: Record<string, Set<string>> = {};
      for (const v of filter.select(views)) {
        const tags = (out[v.ServiceName] ??= new Set());
        for (const t of v.ServiceTags) tags.add(t);
      }
      const value = Object.fromEntries(Object.keys(out).sort().map((k) => [k, [...out[k]!].sort()]));
      return { index: r.index, value };
    }, ["service"]);
  }, undefined, undefined, sharedReadFast(ctx, cache, fastReads, {
    // The plain read (no ?filter, ?node-meta) by a scope that sees every service.
    subject: (rest) => (rest === "" ? true : undefined),
    tables: () => SERVICE_LIST_TABLES,
    read: () => () => catalog().services(undefined),
  }));

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
    const scope = readScope(c);
    // Waits on its own name, as /v1/health/service does (core/state/service-names-changed.ts).
    return cachedJsonRead(ctx, cache, c, serviceCatalogTopics(name), () => {
      const r = catalog().serviceInstances(name, { tags: tagList });
      const readable = readableInstances(scope, r.value);
      const value = readable.filter((i) => metaOk(i.node.meta)).map((i) => serviceNodeView(i.node, i.service));
      return { index: scope.seesAll("node") ? r.index : instancesIndex(readable), value: filtered(value, filter) };
    }, ["node", "service"]);
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
    // The route needs node read on the node; each of its services needs service read on its name
    // (Consul's filterNodeServices), and a hidden service must not move the index.
    const scope = readScope(c);
    const everyService = scope.seesAll("service");
    const r = await blockingRead(ctx, c, CATALOG_TABLES, () => {
      const n = catalog().node(name);
      // Names match case-insensitively: the route checked the name asked for, this checks the node's own.
      // A node the token may not read answers as none does; its index would be every node's, hidden ones included.
      if (!n.value || !scope.can("node", n.value.node.name)) return { index: scope.seesAll("node") ? n.index : 1, value: null };
      const readable = scope.keep(n.value.services, "service", (s) => s.name);
      return { index: everyService ? n.index : Math.max(n.value.node.modifyIndex, visibleIndex(readable)), value: { node: n.value.node, services: readable } };
    });
    if (!r) return c.json(null);
    const services = Object.fromEntries(r.services.map((s) => [s.serviceId, catalogServiceView(s)]));
    return c.json({ Node: nodeView(r.node), Services: filterValues(services, filter) });
  });

  // corral's own (not Consul's): what anti-entropy compares before it writes.
  readRoute(ctx, createRoute({
    method: "get", path: "/v1/discovery/digest/{node}", tags: ["discovery"],
    summary: "Digest of a node's registrations in the catalog (by node ID); agents compare it with their own before a full sync",
    request: { params: z.object({ node: z.string().max(128) }) },
    responses: jsonOk(z.object({ node: z.string(), digest: z.string(), services: z.number(), checks: z.number() })),
  }), (c) => {
    // It sums up every service and check of the node: a token that may not read every service would
    // learn about hidden ones (their count, a digest that changes with them). Agents call it signed.
    if (!readScope(c).seesAll("service")) throw new ApiError(403, "PERMISSION_DENIED", "Permission denied: the digest covers every service of the node (service_prefix \"\" read)");
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
    const list = readScope(c).keep(catalog().nodes().value, "node", (n) => n.name).map((n) =>
      consulMember({ name: n.name, addr: n.address, port: n.port, datacenter: n.datacenter, role: "agent", id: n.id, alive: n.status === "ready" }),
    );
    return c.json(list);
  });
}
