// /v1/agent/check/*: this agent's checks (reference §4.3). TTL checks are
// driven here: pass/warn/fail/update set the status and restart the TTL.
import { createRoute, z } from "@hono/zod-openapi";
import { CheckStatus, consulError, MAX_CHECK_OUTPUT, readScope } from "../../../core/sdk/index.ts";
import { canonicalKeys, isObject } from "../check-definition.ts";
import { emptyOk, jsonBody, filterParam, filterValues, jsonOk, localRoute, pathParam, query, readableChecks, searchParams } from "../http.ts";
import { FilterTypes, HealthCheckSchema, localCheckView } from "../views.ts";
import type { AgentDeps } from "./agent-deps.ts";
import { agentPermissions, checkDefinition } from "../permissions.ts";
import { hideCheckOutputs } from "../check-output.ts";

const tags = ["agent"];
const idParam = { params: z.object({ id: z.string() }) };

export function unknownCheck(id: string) {
  return consulError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
}

const UpdateBody = z.object({ Status: z.string().optional(), Output: z.string().max(1_000_000).optional() });

export function agentCheckRoutes(a: AgentDeps): void {
  const { ctx, registry, sync, runner } = a;
  const perm = agentPermissions(registry, () => a.execChecks());

  /** The TTL check `id`, or Consul's errors for unknown and non-TTL checks. */
  const ttlCheck = (id: string) => {
    const c = registry.check(id);
    if (!c) throw unknownCheck(id);
    // Client libraries match this exact text to re-register (§4.3).
    if (c.spec.type !== "ttl") throw consulError(500, `CheckID "${id}" does not have associated TTL`);
    return c;
  };

  localRoute(ctx, createRoute({
    method: "get", path: "/v1/agent/checks", tags, summary: "This agent's checks: a map of check ID to HealthCheck; ?filter=",
    request: { query: query("filter") }, responses: jsonOk(z.record(z.string(), HealthCheckSchema)),
  }), async (c) => {
    const filter = await filterParam(c, FilterTypes.healthCheck);
    const out: Record<string, ReturnType<typeof localCheckView>> = {};
    const views = registry.listChecks().map((ch) => localCheckView(ch, ctx.host.nodeName, registry.service(ch.spec.serviceId)));
    // Each check by its own rule (a service's: service read; this node's: node read), before the filter sees it.
    const readable = readableChecks(readScope(c), views.map((v) => ({ v, serviceName: v.ServiceName, nodeName: v.Node })));
    for (const { v } of readable) out[v.CheckID] = v;
    return hideCheckOutputs(c, c.json(filterValues(out, filter)), a.hideCheckOutput());
  }, perm.checksRead);

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/check/register", tags,
    summary: "Register a check on this agent (node-level, or attached with ServiceID); HTTP/TCP checks start critical until run",
    request: { query: query() }, responses: emptyOk,
  }), async (c) => {
    const spec = await checkDefinition(c, a.execChecks()); // the object the ACL decision was made on
    if (spec.serviceId && !registry.service(spec.serviceId)) throw consulError(400, `ServiceID "${spec.serviceId}" does not exist`);
    if (!registry.check(spec.id) && registry.checkCount() >= a.limits.checks) {
      throw consulError(400, `this agent already has ${a.limits.checks} checks (plugins.discovery.max_checks_per_node)`);
    }
    registry.putCheck(spec, a.now());
    runner.arm(spec.id);
    registry.save();
    await sync.check(spec.id);
    return c.body(null, 200);
  }, perm.checkRegister);

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/check/deregister/{id{.+}}", tags, summary: "Remove a check from this agent",
    request: { ...idParam, query: query() }, responses: emptyOk,
  }), async (c) => {
    const id = pathParam(c, "id");
    if (!registry.removeCheck(id)) throw unknownCheck(id);
    runner.disarm(id);
    registry.save();
    await sync.check(id);
    return c.body(null, 200);
  }, perm.checkWrite);

  for (const [verb, status] of [["pass", "passing"], ["warn", "warning"], ["fail", "critical"]] as const) {
    localRoute(ctx, createRoute({
      method: "put", path: `/v1/agent/check/${verb}/{id{.+}}`, tags,
      summary: `Set a TTL check ${status} (?note= becomes its Output) and restart its TTL`,
      request: { ...idParam, query: query("note") },
      responses: { ...emptyOk, 404: { description: "Unknown check ID (text)" }, 500: { description: "Not a TTL check (text)" } },
    }), async (c) => {
      const id = pathParam(c, "id");
      ttlCheck(id);
      await runner.set(id, status, searchParams(c).get("note") ?? "");
      return c.body(null, 200);
    }, perm.checkWrite);
  }

  localRoute(ctx, createRoute({
    method: "put", path: "/v1/agent/check/update/{id{.+}}", tags,
    summary: "Set a TTL check's Status and Output (JSON body {Status, Output}) and restart its TTL",
    request: { ...idParam, query: query() }, responses: emptyOk,
  }), async (c) => {
    const id = pathParam(c, "id");
    const raw = await jsonBody(c);
    const body = UpdateBody.safeParse(isObject(raw) ? canonicalKeys(raw, ["Status", "Output"]) : null);
    if (!body.success) throw consulError(400, "Request decode failed: body must be {\"Status\": string, \"Output\": string}");
    const status = CheckStatus.safeParse(body.data.Status);
    if (!status.success) throw consulError(400, `Invalid check status: "${String(body.data.Status ?? "").slice(0, 20)}"`);
    ttlCheck(id);
    await runner.set(id, status.data, (body.data.Output ?? "").slice(0, MAX_CHECK_OUTPUT));
    return c.body(null, 200);
  }, perm.checkWrite);
}
