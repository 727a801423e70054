// What the agent endpoints need when ACLs are on (Consul's rules): a service
// registration or change needs service write on the service's *name*, a
// node-level check or node maintenance node write on this node, reading
// needs read. Names come from this agent's registry (an unknown ID is
// checked as if it were a name, so the answer does not depend on whether it
// exists) or from the request body.
//
// Ownership (security issue 13, Consul's vetRegisterWithACL): a write that
// replaces something that already exists needs write on it *as it exists*
// too — registering an existing service ID under another name needs write on
// the name it has now; a check whose ID exists needs write on its current
// owner. The body is parsed once (`registration`, `checkDefinition`): the
// handler gets the very object the decision was made on.
import type { Context } from "hono";
import {
  checksMap, once, type PermissionSpec, reads, type SegmentHelpers, type Target, type Want,
} from "../../core/sdk/index.ts";
import { parseCheck, type CheckSpec } from "./check-definition.ts";
import { parseServiceRegistration, type ServiceRegistration } from "./definition.ts";
import { jsonBody } from "./http.ts";
import type { LocalRegistry } from "./local.ts";

/** PUT /v1/agent/service/register's body, parsed once per request (a Consul 400 when it does not parse). */
export function registration(c: Context, allowExec: boolean): Promise<ServiceRegistration> {
  return once(c, "discovery.serviceRegistration", async () => parseServiceRegistration(await jsonBody(c), { allowExec }));
}

/** PUT /v1/agent/check/register's body, parsed once per request. */
export function checkDefinition(c: Context, allowExec: boolean): Promise<CheckSpec> {
  return once(c, "discovery.checkDefinition", async () => parseCheck(await jsonBody(c), { allowExec }));
}

/** A body that does not parse names nothing: only a `""` prefix rule passes, to the handler's 400. */
async function orNothing(fn: () => Promise<Target[]>, fallback: Target): Promise<Target[]> {
  try {
    return await fn();
  } catch {
    return [fallback];
  }
}

export function agentPermissions(registry: LocalRegistry, execChecks: () => boolean) {
  const serviceName = (id: string) => registry.service(id)?.name ?? id;
  const ownerOf = (serviceId: string, h: SegmentHelpers): Target =>
    serviceId ? { resource: "service", segment: serviceName(serviceId) } : { resource: "node", segment: h.selfName };
  /** The current owner of check `id` on this agent, if it exists. */
  const existingCheck = (id: string, h: SegmentHelpers): Target[] => {
    const c = registry.check(id);
    return c ? [ownerOf(c.spec.serviceId, h)] : [];
  };
  const checkOwner = (id: string, h: SegmentHelpers): Target => existingCheck(id, h)[0] ?? { resource: "node", segment: h.selfName };
  const byId = (access: Want): PermissionSpec => ({ resource: "service", access, segment: (c) => serviceName(c.req.param("id") ?? "") });
  return {
    /**
     * PUT /v1/agent/service/register: the name in the body; the name the ID has now, when it exists;
     * the owner of every check the body would replace.
     */
    register: {
      resource: "service", access: "write",
      target: (c, h) => orNothing(async () => {
        const reg = await registration(c, execChecks());
        const out: Target[] = [{ resource: "service", segment: reg.service.name }];
        const existing = registry.service(reg.service.id);
        if (existing) out.push({ resource: "service", segment: existing.name });
        for (const ch of reg.checks) {
          const cur = registry.check(ch.id);
          if (cur && cur.spec.serviceId !== reg.service.id) out.push(ownerOf(cur.spec.serviceId, h));
        }
        return out;
      }, { resource: "service", segment: "" }),
    } satisfies PermissionSpec,
    serviceWrite: byId("write"),
    serviceRead: byId("read"),
    nodeWrite: { resource: "node", access: "write", segment: (_c, h) => h.selfName } satisfies PermissionSpec,
    /** PUT /v1/agent/check/register: the service named by ServiceID, else this node; and the check's owner now, when its ID exists. */
    checkRegister: {
      resource: "node", access: "write",
      target: (c, h) => orNothing(async () => {
        const spec = await checkDefinition(c, execChecks());
        return [ownerOf(spec.serviceId, h), ...existingCheck(spec.id, h)];
      }, { resource: "node", segment: h.selfName }),
    } satisfies PermissionSpec,
    /** Check updates and removal by ID. */
    checkWrite: { resource: "node", access: "write", target: (c, h) => checkOwner(c.req.param("id") ?? "", h) } satisfies PermissionSpec,
    /** GET /v1/agent/checks: a filtered map. */
    checksRead: { resource: "service", access: "read", filter: reads(["service", "node"], checksMap) } satisfies PermissionSpec,
  };
}
