// PUT /v1/catalog/register and /v1/catalog/deregister (reference §5, "nice"):
// Consul's low-level catalog writes, for nodes and services no agent owns
// (external services). Handled where the catalog is (agents and followers
// hand them to the leader, as reads are), written through the log. Answers
// `true`, as Consul does.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requestIdentity } from "../../../core/acl/enforce.ts";
import type { PermissionSpec } from "../../../core/acl/types.ts";
import { assertDatacenter } from "../../../core/http/consul.ts";
import { consulError } from "../../../core/http/errors.ts";
import type { PluginContext } from "../../../core/plugins/types.ts";
import type { Command } from "../../../core/state/commands.ts";
import { externalNodeId, parseCatalogDeregistration, parseCatalogRegistration, type CatalogRegistration } from "../catalog-registration.ts";
import { decodeJson } from "../definition.ts";
import { bodyText, jsonOk, query, readRoute } from "../http.ts";

const tags = ["catalog"];

async function body(c: Context): Promise<unknown> {
  return decodeJson(await c.req.raw.clone().text());
}

/** The node a body names ("" when it does not parse: the route answers the 400). */
async function bodyNode(c: Context): Promise<string> {
  try {
    const b = (await body(c)) as Record<string, unknown>;
    const node = Object.entries(b).find(([k]) => k.toLowerCase() === "node")?.[1];
    return typeof node === "string" ? node : "";
  } catch {
    return "";
  }
}

/** Every write names a node: node write on it; service write is checked in the handler (Consul asks for both). */
const nodeWrite: PermissionSpec = { resource: "node", access: "write", segment: (c) => bodyNode(c) };

/** With ACLs on, the service a registration touches needs service write too. */
function requireServiceWrite(c: Context, service: string): void {
  const id = requestIdentity(c);
  if (id && !id.authz.allowed("service", service, "write")) throw consulError(403, "Permission denied");
}

export function catalogWriteRoutes(ctx: PluginContext<unknown>): void {
  const catalog = () => ctx.state.catalog;
  const propose = async (cmd: Command) => {
    const out = await ctx.propose(cmd);
    if (!out.result.ok) throw consulError(400, out.result.message ?? out.result.code ?? "rejected");
    return out.result;
  };

  /** The node to write: the one of that name if the catalog has it (members keep their id), else the body's ID or one derived from the name. */
  const nodeRef = (r: CatalogRegistration) => {
    const known = catalog().nodeByName(r.node);
    if (r.skipNodeUpdate) {
      if (!known) throw consulError(400, `SkipNodeUpdate: node "${r.node}" is not in the catalog`);
      return { id: known.id, name: known.name, address: known.address, datacenter: known.datacenter };
    }
    return { id: known?.id ?? r.nodeId ?? externalNodeId(r.node), name: r.node, address: r.address, datacenter: ctx.host.datacenter };
  };

  readRoute(ctx, createRoute({
    method: "put", path: "/v1/catalog/register", tags,
    summary: "Register a node (external ones included), and optionally a service and checks on it (Consul's catalog API); answers true",
    request: { query: query() }, responses: jsonOk(z.boolean()),
  }), async (c) => {
    const r = parseCatalogRegistration(decodeJson(await bodyText(c)));
    assertDatacenter(r.datacenter, ctx.host.datacenter);
    if (r.service) requireServiceWrite(c, r.service.name);
    const node = nodeRef(r);
    let owners: Map<string, string> | undefined; // read once, and only if a check names another service of the node
    for (const ch of r.checks) {
      if (!ch.serviceId || ch.serviceId === r.service?.id) continue;
      const owner = (owners ??= serviceNames(ctx, node.id)).get(ch.serviceId);
      if (owner) requireServiceWrite(c, owner);
    }
    await propose({ type: "CatalogRegister", v: 1, at: Date.now(), node, ...(r.service ? { service: r.service } : {}), checks: r.checks });
    return c.json(true);
  }, nodeWrite);

  readRoute(ctx, createRoute({
    method: "put", path: "/v1/catalog/deregister", tags,
    summary: "Remove a check, a service, or a node's whole catalog entry (Consul's catalog API); answers true",
    request: { query: query() }, responses: jsonOk(z.boolean()),
  }), async (c) => {
    const d = parseCatalogDeregistration(decodeJson(await bodyText(c)));
    assertDatacenter(d.datacenter, ctx.host.datacenter);
    const node = catalog().nodeByName(d.node);
    if (!node) return c.json(true); // nothing to remove (Consul answers true too)
    const owner = d.serviceId ? serviceNames(ctx, node.id).get(d.serviceId) : undefined;
    if (owner) requireServiceWrite(c, owner);
    await propose({
      type: "CatalogDeregister", v: 1, at: Date.now(), nodeId: node.id,
      ...(d.serviceId ? { serviceId: d.serviceId } : {}), ...(d.checkId ? { checkId: d.checkId } : {}),
    });
    return c.json(true);
  }, nodeWrite);
}

/** Service id -> name for the services the catalog has on node `nodeId`. */
function serviceNames(ctx: PluginContext<unknown>, nodeId: string): Map<string, string> {
  return new Map(ctx.state.catalog.registrations(nodeId).services.map((s) => [s.id, s.name]));
}
