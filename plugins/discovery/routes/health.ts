// /v1/health/* (reference §6): instances with their checks, a node's node
// checks (serfHealth, derived from membership) included. `passing` drops any
// instance with a non-passing check, warning included (§6.2).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { CheckStatus, consulError, type PluginContext, readScope, type ReadScope, serviceHealthTopics } from "../../../core/sdk/index.ts";
import { type FastReads, sharedReadFast } from "../read-fast.ts";
import { instancesIndex, readableInstances, visibleIndex, BLOCKING, cachedJsonRead, filtered, filterParam, HEALTH_TABLES, jsonOk, nodeMetaFilter, passingParam, pathParam, query, QueryCache, readableChecks, readRoute, type RequestFilter, searchParams } from "../http.ts";
import { hideCheckOutputs } from "../check-output.ts";
import { catalogServiceView, FilterTypes, healthCheckView, HealthCheckSchema, nodeView, ServiceEntrySchema } from "../views.ts";

const tags = ["health"];

/** `cache`: the plugin's one answer cache (index.ts), shared with the catalog routes; `fastReads` counts its fast path's answers. */
export function healthRoutes(ctx: PluginContext<unknown>, hideOutput: () => boolean, cache: QueryCache, fastReads: FastReads): void {
  const catalog = () => ctx.state.catalog;
  const outputs = (c: Context, res: Response) => hideCheckOutputs(c, res, hideOutput());
  const name = (c: Parameters<typeof pathParam>[0], p: string, what: string) => {
    const v = pathParam(c, p);
    if (!v) throw consulError(400, `Missing ${what} name`);
    return v;
  };

  /** The answer of /v1/health/service/<service>: its instances the scope may read, with their checks. */
  const serviceHealth = (scope: ReadScope, service: string, q: { passing: boolean; metaOk: (meta: Record<string, string>) => boolean; tagList: string[]; filter: RequestFilter | undefined }) => () => {
    const all = catalog().serviceInstances(service, { tags: q.tagList, withChecks: true });
    const readable = readableInstances(scope, all.value);
    const r = { index: scope.seesAll("node") ? all.index : instancesIndex(readable), value: readable };
    const value = r.value
      .filter((i) => q.metaOk(i.node.meta) && (!q.passing || i.checks.every((ch) => ch.status === "passing")))
      .map((i) => ({ Node: nodeView(i.node), Service: catalogServiceView(i.service), Checks: i.checks.map(healthCheckView) }));
    return { index: r.index, value: filtered(value, q.filter) };
  };

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/health/service/{service{.*}}", tags,
    summary: "Instances of a service with node and service checks; ?passing, ?tag= (all must match), ?filter=; blocks on ?index",
    request: { params: z.object({ service: z.string() }), query: query(...BLOCKING, "passing", "tag", "near") },
    responses: jsonOk(z.array(ServiceEntrySchema)),
  }), async (c) => {
    const service = name(c, "service", "service");
    const passing = passingParam(c);
    const metaOk = nodeMetaFilter(c);
    const tagList = searchParams(c).getAll("tag");
    const filter = await filterParam(c, FilterTypes.serviceEntry);
    const scope = readScope(c);
    // Waits on its own name: a write to another service does not wake it (core/state/service-names-changed.ts).
    return cachedJsonRead(ctx, cache, c, serviceHealthTopics(service), serviceHealth(scope, service, { passing, metaOk, tagList, filter }), ["node", "service"]);
  }, undefined, outputs, sharedReadFast(ctx, cache, fastReads, {
    // The plain read (no ?passing, ?tag, ?node-meta, ?filter): the route's with its defaults.
    subject: (rest) => rest || undefined,
    tables: serviceHealthTopics,
    read: (service, scope) => serviceHealth(scope, service, { passing: false, metaOk: () => true, tagList: [], filter: undefined }),
  }));

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/health/checks/{service{.*}}", tags, summary: "The checks of every instance of a service; ?filter=; blocks on ?index",
    request: { params: z.object({ service: z.string() }), query: query(...BLOCKING, "near") },
    responses: jsonOk(z.array(HealthCheckSchema)),
  }), async (c) => {
    const service = name(c, "service", "service");
    const filter = await filterParam(c, FilterTypes.healthCheck);
    const scope = readScope(c);
    // Its service's checks: the same rows as a health query's on that name, so the same wait.
    return cachedJsonRead(ctx, cache, c, serviceHealthTopics(service), () => {
      const r = catalog().serviceChecks(service);
      // Names match case-insensitively: each check by its service's own name (the route checked the name
      // asked for). The index stays the name's: only a case variant the token may not read could move it.
      const readable = readableChecks(scope, r.value);
      return { index: r.index, value: filtered(readable.map(healthCheckView), filter) };
    }, ["service"]);
  }, undefined, outputs);

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/health/node/{node{.*}}", tags, summary: "A node's checks: serfHealth, node checks, service checks; ?filter=; blocks on ?index",
    request: { params: z.object({ node: z.string() }), query: query(...BLOCKING) },
    responses: jsonOk(z.array(HealthCheckSchema)),
  }), async (c) => {
    const node = name(c, "node", "node");
    const filter = await filterParam(c, FilterTypes.healthCheck);
    const scope = readScope(c);
    const everything = scope.seesAll("service") && scope.seesAll("node");
    // The route needs node read on the node; each service check also needs service read on its service.
    return cachedJsonRead(ctx, cache, c, HEALTH_TABLES, () => {
      const r = catalog().nodeChecks(node);
      // Names match case-insensitively: each check also needs node read on its node's own name.
      const readable = readableChecks(scope, scope.keep(r.value, "node", (ch) => ch.nodeName));
      return { index: everything ? r.index : visibleIndex(readable), value: filtered(readable.map(healthCheckView), filter) };
    }, ["service", "node"]);
  }, undefined, outputs);

  readRoute(ctx, createRoute({
    method: "get", path: "/v1/health/state/{state{.*}}", tags,
    summary: "Every check in a state: any, passing, warning or critical; ?filter=; blocks on ?index",
    request: { params: z.object({ state: z.string() }), query: query(...BLOCKING, "near") },
    responses: jsonOk(z.array(HealthCheckSchema)),
  }), async (c) => {
    const state = pathParam(c, "state");
    if (!state) throw consulError(400, "Missing check state");
    const parsed = state === "any" ? ({ success: true, data: "any" } as const) : CheckStatus.safeParse(state);
    if (!parsed.success) throw consulError(400, "Invalid check state");
    const filter = await filterParam(c, FilterTypes.healthCheck);
    const scope = readScope(c);
    const everything = scope.seesAll("service") && scope.seesAll("node");
    return cachedJsonRead(ctx, cache, c, HEALTH_TABLES, () => {
      if (everything) {
        const r = catalog().checksInState(parsed.data);
        return { index: r.index, value: filtered(r.value.map(healthCheckView), filter) };
      }
      // The index of every check the token may read, whatever its state: one leaving this state moves it too.
      const readable = readableChecks(scope, catalog().checksInState("any").value);
      const inState = parsed.data === "any" ? readable : readable.filter((ch) => ch.status === parsed.data);
      return { index: visibleIndex(readable), value: filtered(inState.map(healthCheckView), filter) };
    }, ["service", "node"]);
  }, undefined, outputs);
}
