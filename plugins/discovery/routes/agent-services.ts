// /v1/agent/service/*: this agent's own services (reference §4.1, §4.2).
// Answered from the agent's registry, never forwarded; every change is
// persisted first, then written to the catalog (a failed write is retried
// by anti-entropy, as Consul's agent does, so the client still gets 200).
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { consulError, readScope } from "../../../core/sdk/index.ts";
import type { CheckSpec } from "../check-definition.ts";
import { emptyOk, filterParam, filterValues, jsonOk, localRoute, pathParam, query, searchParams } from "../http.ts";
import { agentServiceView, AgentServiceSchema, contentHash, FilterTypes } from "../views.ts";
import type { AgentDeps } from "./agent-deps.ts";
import { agentPermissions, registration } from "../permissions.ts";

const tags = ["agent"];

export function unknownService(id: string) {
  return consulError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
}

/** `enable` of the maintenance endpoints: a required Go bool. */
function enableParam(c: Context): boolean {
  const v = searchParams(c).get("enable");
  if (v === null || v === "") throw consulError(400, "Missing value for enable");
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw consulError(400, `Invalid value for enable: "${v.slice(0, 20)}"`);
}

export function maintenanceCheck(serviceId: string, reason: string): CheckSpec {
  const what = serviceId ? "service" : "node";
  return {
    id: serviceId ? `_service_maintenance:${serviceId}` : "_node_maintenance",
    name: serviceId ? "Service Maintenance Mode" : "Node Maintenance Mode",
    serviceId, type: "maintenance", status: "critical", definition: {},
    notes: reason || `Maintenance mode is enabled for this ${what}, but no reason was provided. This is a default message.`,
  };
}

export function agentServiceRoutes(a: AgentDeps): void {
  const { ctx, registry, sync, runner } = a;
  const perm = agentPermissions(registry, () => a.execChecks());

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/service/register", tags,
    summary: "Register a service on this agent (Consul's service definition, JSON body); ?replace-existing-checks",
    request: { query: query("replace-existing-checks") }, responses: emptyOk,
  }), async (c) => {
    const reg = await registration(c, a.execChecks()); // the object the ACL decision was made on
    if (!registry.service(reg.service.id) && registry.serviceCount() >= a.limits.services) {
      throw consulError(400, `this agent already has ${a.limits.services} services (plugins.discovery.max_services_per_node)`);
    }
    const added = reg.checks.filter((ch) => !registry.check(ch.id)).length;
    if (added > 0 && registry.checkCount() + added > a.limits.checks) {
      throw consulError(400, `this agent already has ${registry.checkCount()} checks, at most ${a.limits.checks} (plugins.discovery.max_checks_per_node)`);
    }
    const dropped = registry.putService(reg.service, reg.checks, searchParams(c).has("replace-existing-checks"), a.now());
    for (const id of dropped) runner.disarm(id);
    for (const ch of reg.checks) runner.arm(ch.id);
    registry.save();
    await sync.service(reg.service.id);
    return c.body(null, 200);
  }, perm.register);

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/service/deregister/{id{.+}}", tags,
    summary: "Remove a service and its checks from this agent",
    request: { params: z.object({ id: z.string() }), query: query() }, responses: emptyOk,
  }), async (c) => {
    const id = pathParam(c, "id");
    const gone = registry.removeService(id);
    if (!gone) throw unknownService(id);
    for (const ch of gone) runner.disarm(ch);
    registry.save();
    await sync.service(id);
    return c.body(null, 200);
  }, perm.serviceWrite);

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/service/maintenance/{id{.+}}", tags,
    summary: "Put a service in maintenance (?enable=true&reason=): a critical _service_maintenance:<id> check",
    request: { params: z.object({ id: z.string() }), query: query("enable", "reason") }, responses: emptyOk,
  }), async (c) => {
    const id = pathParam(c, "id");
    const enable = enableParam(c);
    if (!registry.service(id)) throw unknownService(id);
    const check = maintenanceCheck(id, searchParams(c).get("reason") ?? "");
    if (enable) registry.putCheck(check, a.now());
    else registry.removeCheck(check.id);
    registry.save();
    await sync.check(check.id);
    return c.body(null, 200);
  }, perm.serviceWrite);

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/maintenance", tags,
    summary: "Put this node in maintenance (?enable=true&reason=): a critical _node_maintenance check",
    request: { query: query("enable", "reason") }, responses: emptyOk,
  }), async (c) => {
    const enable = enableParam(c);
    const check = maintenanceCheck("", searchParams(c).get("reason") ?? "");
    if (enable) registry.putCheck(check, a.now());
    else registry.removeCheck(check.id);
    registry.save();
    await sync.check(check.id);
    return c.body(null, 200);
  }, perm.nodeWrite);

  localRoute(ctx, createRoute({
    method: "get", path: "/v1/agent/services", tags, summary: "This agent's services: a map of service ID to AgentService; ?filter=",
    request: { query: query("filter") }, responses: jsonOk(z.record(z.string(), AgentServiceSchema)),
  }), async (c) => {
    const filter = await filterParam(c, FilterTypes.agentService);
    const out: Record<string, ReturnType<typeof agentServiceView>> = {};
    // Services the token may not read are left out before the filter sees them.
    for (const s of readScope(c).keep(registry.listServices(), "service", (s) => s.name)) out[s.id] = agentServiceView(s, ctx.host.datacenter);
    return c.json(filterValues(out, filter));
  });

  // After the PUT routes above: its pattern would match their paths too.
  localRoute(ctx, createRoute({
    method: "get", path: "/v1/agent/service/{id{.+}}", tags, summary: "One of this agent's services, with its ContentHash",
    request: { params: z.object({ id: z.string() }), query: query() },
    responses: { ...jsonOk(AgentServiceSchema), 404: { description: "Unknown service ID (text)" } },
  }), (c) => {
    const id = pathParam(c, "id");
    const s = registry.service(id);
    if (!s) throw consulError(404, `unknown service ID: ${id}`);
    const view = agentServiceView(s, ctx.host.datacenter);
    return c.json({ ...view, ContentHash: contentHash(view) });
  }, perm.serviceRead);
}
