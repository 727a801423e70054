// What the agent endpoints need when ACLs are on (Consul's rules): a service
// registration or change needs service write on the service's *name*, a
// node-level check or node maintenance node write on this node, reading
// needs read. Names come from this agent's registry (an unknown ID is
// checked as if it were a name, so the answer does not depend on whether it
// exists) or from the request body.
import type { Context } from "hono";
import { checksMap, reads } from "../../core/acl/filters.ts";
import type { PermissionSpec, Resource, SegmentHelpers, Want } from "../../core/acl/types.ts";
import { parseCheck } from "./check-definition.ts";
import { decodeJson, parseServiceRegistration } from "./definition.ts";
import type { LocalRegistry } from "./local.ts";

type Target = { resource: Resource; segment: string };

async function bodyJson(c: Context): Promise<unknown> {
  return decodeJson(await c.req.raw.clone().text());
}

export function agentPermissions(registry: LocalRegistry) {
  const serviceName = (id: string) => registry.service(id)?.name ?? id;
  const checkOwner = (id: string, h: SegmentHelpers): Target => {
    const owner = registry.check(id)?.spec.serviceId;
    return owner ? { resource: "service", segment: serviceName(owner) } : { resource: "node", segment: h.selfName };
  };
  const byId = (access: Want): PermissionSpec => ({ resource: "service", access, segment: (c) => serviceName(c.req.param("id") ?? "") });
  return {
    /** PUT /v1/agent/service/register: the name in the body ("" when it does not parse: only service_prefix "" passes, to the 400). */
    register: {
      resource: "service", access: "write",
      segment: async (c) => {
        try {
          // allowExec: only the name matters here; the route itself refuses Args checks when they are off.
          return parseServiceRegistration(await bodyJson(c), { allowExec: true }).service.name;
        } catch {
          return "";
        }
      },
    } satisfies PermissionSpec,
    serviceWrite: byId("write"),
    serviceRead: byId("read"),
    nodeWrite: { resource: "node", access: "write", segment: (_c, h) => h.selfName } satisfies PermissionSpec,
    /** PUT /v1/agent/check/register: the service named by ServiceID, else this node. */
    checkRegister: {
      resource: "node", access: "write",
      target: async (c, h): Promise<Target> => {
        try {
          const spec = parseCheck(await bodyJson(c), { allowExec: true });
          return spec.serviceId ? { resource: "service", segment: serviceName(spec.serviceId) } : { resource: "node", segment: h.selfName };
        } catch {
          return { resource: "node", segment: h.selfName };
        }
      },
    } satisfies PermissionSpec,
    /** Check updates and removal by ID. */
    checkWrite: { resource: "node", access: "write", target: (c, h) => checkOwner(c.req.param("id") ?? "", h) } satisfies PermissionSpec,
    /** GET /v1/agent/checks: a filtered map. */
    checksRead: { resource: "service", access: "read", filter: reads(["service", "node"], checksMap) } satisfies PermissionSpec,
  };
}
