// List filters: instead of refusing a list, drop the entries the token may
// not read (Consul filters catalog, health, agent and KV listings). Each
// filter knows one answer shape; an answer of another shape passes unchanged
// (an error body, a ?raw value). Pure.
import type { Authorizer, ListFilter, Resource } from "./types.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown) => (typeof v === "string" ? v : "");

/** An array of objects, each named by `field`. */
export function arrayBy(resource: Resource, field: string): ListFilter {
  return (body, authz) => {
    if (!Array.isArray(body)) return { body, dropped: 0 };
    const kept = body.filter((e) => isObj(e) && authz.allowed(resource, str(e[field]), "read"));
    return { body: kept, dropped: body.length - kept.length };
  };
}

/** A map whose keys are the names (catalog/services: name → tags). */
export function mapKeys(resource: Resource): ListFilter {
  return (body, authz) => {
    if (!isObj(body)) return { body, dropped: 0 };
    const kept = Object.entries(body).filter(([k]) => authz.allowed(resource, k, "read"));
    return { body: Object.fromEntries(kept), dropped: Object.keys(body).length - kept.length };
  };
}

/** A map of id → object named by `field` (agent/services: id → AgentService). */
export function mapValuesBy(resource: Resource, field: string): ListFilter {
  return (body, authz) => {
    if (!isObj(body)) return { body, dropped: 0 };
    const kept = Object.entries(body).filter(([, v]) => isObj(v) && authz.allowed(resource, str(v[field]), "read"));
    return { body: Object.fromEntries(kept), dropped: Object.keys(body).length - kept.length };
  };
}

/** KV listings: KVPair objects (?recurse) or key names (?keys). */
export const kvFilter: ListFilter = (body, authz) => {
  if (!Array.isArray(body)) return { body, dropped: 0 };
  const kept = body.filter((e) => authz.allowed("key", typeof e === "string" ? e : isObj(e) ? str(e.Key) : "", "read"));
  return { body: kept, dropped: body.length - kept.length };
};

/** A HealthCheck: a service check needs service read, a node check node read. */
function checkAllowed(c: unknown, authz: Authorizer): boolean {
  if (!isObj(c)) return false;
  return str(c.ServiceName) !== "" ? authz.allowed("service", str(c.ServiceName), "read") : authz.allowed("node", str(c.Node), "read");
}

/** health/state: an array of HealthChecks. */
export const checksArray: ListFilter = (body, authz) => {
  if (!Array.isArray(body)) return { body, dropped: 0 };
  const kept = body.filter((c) => checkAllowed(c, authz));
  return { body: kept, dropped: body.length - kept.length };
};

/** agent/checks: a map of check id → HealthCheck. */
export const checksMap: ListFilter = (body, authz) => {
  if (!isObj(body)) return { body, dropped: 0 };
  const kept = Object.entries(body).filter(([, c]) => checkAllowed(c, authz));
  return { body: Object.fromEntries(kept), dropped: Object.keys(body).length - kept.length };
};

/** The resources a filter reads, so it can be skipped when the token reads all of them. */
export function filterResources(f: ListFilter): Resource[] | undefined {
  return (f as ListFilter & { resources?: Resource[] }).resources;
}

/** Tags a filter with the resources it checks. */
export function reads(resources: Resource[], f: ListFilter): ListFilter {
  return Object.assign(f, { resources });
}
