// PUT /v1/catalog/register and /v1/catalog/deregister (reference §5, "nice"):
// Consul's low-level catalog writes, for nodes and services no agent owns
// (external services). Handled where the catalog is (agents and followers
// hand them to the leader, as reads are), written through the log. Answers
// `true`, as Consul does.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  AclUnavailableError, assertDatacenter, type Command, consulError, once, type PermissionSpec,
  type PluginContext, type Target,
} from "../../../core/sdk/index.ts";
import { externalNodeId, parseCatalogDeregistration, parseCatalogRegistration, type CatalogRegistration } from "../catalog-registration.ts";
import { jsonBody, jsonOk, query, readRoute } from "../http.ts";

const tags = ["catalog"];

/** The bodies, parsed once per request: the ACL decision and the handler read the same object. */
const registration = (c: Context) => once(c, "catalog.register", async () => parseCatalogRegistration(await jsonBody(c)));
const deregistration = (c: Context) => once(c, "catalog.deregister", async () => parseCatalogDeregistration(await jsonBody(c)));

const nodeTarget = (node: string): Target => ({ resource: "node", segment: node });
const serviceTarget = (name: string): Target => ({ resource: "service", segment: name });

/** A body that does not parse names nothing: only node_prefix "" passes, to the handler's 400. */
async function orNothing(fn: () => Promise<Target[]>): Promise<Target[]> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AclUnavailableError) throw err;
    return [nodeTarget("")];
  }
}

/**
 * Consul's vetRegisterWithACL: node write on the node; service write on the
 * service registered and, when its ID already exists on the node, on the
 * name it has now; for each check, write on the service it will belong to
 * and on the owner it has now (service, or the node for a node check). The
 * owners come from the state (a leader asks nothing; an agent asks a leader,
 * core/acl/facts.ts), so a registration is judged the same wherever it lands.
 */
const registerPermission: PermissionSpec = {
  resource: "node", access: "write",
  target: (c, h) => orNothing(async () => {
    const r = await registration(c);
    const owners = await h.catalogOwners(r.node);
    const out = [nodeTarget(r.node)];
    const ownerOf = (serviceId: string): Target => {
      if (!serviceId) return nodeTarget(r.node);
      if (r.service && serviceId === r.service.id) return serviceTarget(r.service.name);
      return serviceTarget(owners.services[serviceId] ?? serviceId); // unknown: its ID checked as a name
    };
    if (r.service) {
      out.push(serviceTarget(r.service.name));
      const existing = owners.services[r.service.id];
      if (existing !== undefined) out.push(serviceTarget(existing));
    }
    for (const ch of r.checks) {
      out.push(ownerOf(ch.serviceId));
      const current = owners.checks[ch.id];
      if (current !== undefined) out.push(current ? serviceTarget(owners.services[current] ?? current) : nodeTarget(r.node));
    }
    return out;
  }),
};

/**
 * Consul's vetDeregisterWithACL, with node write always required (corral's
 * rule: every catalog write names a node): a service needs write on its
 * name as it exists, a check write on its owner as it exists.
 */
const deregisterPermission: PermissionSpec = {
  resource: "node", access: "write",
  target: (c, h) => orNothing(async () => {
    const d = await deregistration(c);
    const out = [nodeTarget(d.node)];
    if (!d.serviceId && !d.checkId) return out;
    const owners = await h.catalogOwners(d.node);
    if (d.serviceId) out.push(serviceTarget(owners.services[d.serviceId] ?? d.serviceId));
    if (d.checkId) {
      const sid = owners.checks[d.checkId];
      if (sid) out.push(serviceTarget(owners.services[sid] ?? sid));
    }
    return out;
  }),
};

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
    const id = known?.id ?? r.nodeId ?? externalNodeId(r.node);
    // A new name with the ID of a node that exists would rename that node (and hand its services to whoever may
    // write the new name): refused, as Consul refuses a node ID that aliases another node.
    if (!known) {
      const holder = ctx.state.getNode(id)?.name ?? catalog().registrations(id).node?.name;
      if (holder !== undefined && holder.toLowerCase() !== r.node.toLowerCase()) {
        throw consulError(400, `node ID "${id}" belongs to node "${holder}", not "${r.node}"`);
      }
    }
    return { id, name: r.node, address: r.address, datacenter: ctx.host.datacenter };
  };

  readRoute(ctx, createRoute({
    method: "put", path: "/v1/catalog/register", tags,
    summary: "Register a node (external ones included), and optionally a service and checks on it (Consul's catalog API); answers true",
    request: { query: query() }, responses: jsonOk(z.boolean()),
  }), async (c) => {
    const r = await registration(c); // the object the ACL decision was made on (registerPermission)
    assertDatacenter(r.datacenter, ctx.host.datacenter);
    const node = nodeRef(r);
    await propose({ type: "CatalogRegister", v: 1, at: Date.now(), node, ...(r.service ? { service: r.service } : {}), checks: r.checks });
    return c.json(true);
  }, registerPermission);

  readRoute(ctx, createRoute({
    method: "put", path: "/v1/catalog/deregister", tags,
    summary: "Remove a check, a service, or a node's whole catalog entry (Consul's catalog API); answers true",
    request: { query: query() }, responses: jsonOk(z.boolean()),
  }), async (c) => {
    const d = await deregistration(c); // the object the ACL decision was made on (deregisterPermission)
    assertDatacenter(d.datacenter, ctx.host.datacenter);
    const node = catalog().nodeByName(d.node);
    if (!node) return c.json(true); // nothing to remove (Consul answers true too)
    await propose({
      type: "CatalogDeregister", v: 1, at: Date.now(), nodeId: node.id,
      ...(d.serviceId ? { serviceId: d.serviceId } : {}), ...(d.checkId ? { checkId: d.checkId } : {}),
    });
    return c.json(true);
  }, deregisterPermission);
}
