// Consul's JSON shapes (reference §4–§6): PascalCase names, [] and {} for
// empty collections, numbers where Go clients decode ints. The zod schemas
// document the shapes in /v1/openapi.json; the functions build them.
import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import type { CatalogCheck, CatalogNode, CatalogService, CatalogServiceDef } from "../../core/sdk/index.ts";
import type { LocalCheck } from "./local.ts";
import { T } from "./filter.ts";

const strMap = z.record(z.string(), z.string());
const Weights = z.object({ Passing: z.number(), Warning: z.number() });
const ServiceTaggedAddresses = z.record(z.string(), z.object({ Address: z.string(), Port: z.number() }));

export const NodeSchema = z.object({
  ID: z.string(), Node: z.string(), Address: z.string(), Datacenter: z.string(),
  TaggedAddresses: strMap, Meta: strMap, CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("ConsulNode");

export const AgentServiceSchema = z.object({
  ID: z.string(), Service: z.string(), Tags: z.array(z.string()), Meta: strMap, Port: z.number(), Address: z.string(),
  TaggedAddresses: ServiceTaggedAddresses, Weights, EnableTagOverride: z.boolean(), Datacenter: z.string().optional(),
  CreateIndex: z.number().optional(), ModifyIndex: z.number().optional(), ContentHash: z.string().optional(),
}).openapi("AgentService");

export const HealthCheckSchema = z.object({
  Node: z.string(), CheckID: z.string(), Name: z.string(), Status: z.enum(["passing", "warning", "critical"]),
  Notes: z.string(), Output: z.string(), ServiceID: z.string(), ServiceName: z.string(), ServiceTags: z.array(z.string()),
  Type: z.string(), Definition: z.record(z.string(), z.unknown()), CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("HealthCheck");

export const ServiceNodeSchema = z.object({
  ID: z.string(), Node: z.string(), Address: z.string(), Datacenter: z.string(), TaggedAddresses: strMap, NodeMeta: strMap,
  ServiceKind: z.string(), ServiceID: z.string(), ServiceName: z.string(), ServiceTags: z.array(z.string()),
  ServiceAddress: z.string(), ServicePort: z.number(), ServiceMeta: strMap, ServiceWeights: Weights,
  ServiceTaggedAddresses: ServiceTaggedAddresses, ServiceEnableTagOverride: z.boolean(), CreateIndex: z.number(), ModifyIndex: z.number(),
}).openapi("ServiceNode");

export const ServiceEntrySchema = z.object({ Node: NodeSchema, Service: AgentServiceSchema, Checks: z.array(HealthCheckSchema) }).openapi("ServiceEntry");

export const MemberSchema = z.object({
  Name: z.string(), Addr: z.string(), Port: z.number(), Tags: strMap, Status: z.number(),
  ProtocolMin: z.number(), ProtocolMax: z.number(), ProtocolCur: z.number(),
  DelegateMin: z.number(), DelegateMax: z.number(), DelegateCur: z.number(),
}).openapi("Member");

/** Consul fills lan/wan (and their _ipv4 twins) with the node address. */
function nodeTaggedAddresses(address: string): Record<string, string> {
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(address);
  return v4 ? { lan: address, lan_ipv4: address, wan: address, wan_ipv4: address } : { lan: address, wan: address };
}

export function nodeView(n: CatalogNode) {
  return {
    ID: n.id, Node: n.name, Address: n.address, Datacenter: n.datacenter,
    TaggedAddresses: nodeTaggedAddresses(n.address), Meta: { ...n.meta }, CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
  };
}

function taggedAddresses(t: CatalogServiceDef["taggedAddresses"]) {
  return Object.fromEntries(Object.entries(t).map(([k, a]) => [k, { Address: a.address, Port: a.port }]));
}

/** The agent-side view (GET /v1/agent/services): no indexes, Datacenter set. */
export function agentServiceView(s: CatalogServiceDef, datacenter: string) {
  return {
    ID: s.id, Service: s.name, Tags: [...s.tags], Meta: { ...s.meta }, Port: s.port, Address: s.address,
    TaggedAddresses: taggedAddresses(s.taggedAddresses), Weights: { Passing: s.weights.passing, Warning: s.weights.warning },
    EnableTagOverride: s.enableTagOverride, Datacenter: datacenter,
  };
}

/** Consul's ContentHash: changes whenever the service definition does (hash-based blocking is not implemented). */
export function contentHash(view: unknown): string {
  return createHash("sha256").update(JSON.stringify(view)).digest("hex").slice(0, 16);
}

/** The catalog-side view (catalog/node, health/service `Service`). */
export function catalogServiceView(s: CatalogService) {
  return {
    ID: s.serviceId, Service: s.name, Tags: [...s.tags], Address: s.address, Meta: { ...s.meta }, Port: s.port,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning }, EnableTagOverride: s.enableTagOverride,
    TaggedAddresses: taggedAddresses(s.taggedAddresses), CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

export function serviceNodeView(n: CatalogNode, s: CatalogService) {
  return {
    ID: n.id, Node: n.name, Address: n.address, Datacenter: n.datacenter, TaggedAddresses: nodeTaggedAddresses(n.address),
    NodeMeta: { ...n.meta }, ServiceKind: "", ServiceID: s.serviceId, ServiceName: s.name, ServiceTags: [...s.tags],
    ServiceAddress: s.address, ServicePort: s.port, ServiceMeta: { ...s.meta },
    ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning },
    ServiceTaggedAddresses: taggedAddresses(s.taggedAddresses), ServiceEnableTagOverride: s.enableTagOverride,
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

export function healthCheckView(c: CatalogCheck) {
  return {
    Node: c.nodeName, CheckID: c.checkId, Name: c.name, Status: c.status, Notes: c.notes, Output: c.output,
    ServiceID: c.serviceId, ServiceName: c.serviceName, ServiceTags: [...c.serviceTags], Type: c.type,
    Definition: { ...c.definition }, CreateIndex: c.createIndex, ModifyIndex: c.modifyIndex,
  };
}

/** A check as the agent holds it (GET /v1/agent/checks): indexes are 0, as in Consul's agent view. */
export function localCheckView(c: LocalCheck, nodeName: string, service: CatalogServiceDef | undefined) {
  return {
    Node: nodeName, CheckID: c.spec.id, Name: c.spec.name, Status: c.status, Notes: c.spec.notes, Output: c.output,
    ServiceID: c.spec.serviceId, ServiceName: service?.name ?? "", ServiceTags: service ? [...service.tags] : [],
    Type: c.spec.type, Definition: { ...c.spec.definition }, CreateIndex: 0, ModifyIndex: 0,
  };
}

// Element types for `?filter=` (filter.ts): the field names and types of the
// views above, which are what selectors name (test/discovery/filter.test.ts
// checks they stay in step).
const fStrMap = T.map(T.string);
const fWeights = T.struct({ Passing: T.int, Warning: T.int });
const fServiceTagged = T.map(T.struct({ Address: T.string, Port: T.int }));
const fNode = T.struct({
  ID: T.string, Node: T.string, Address: T.string, Datacenter: T.string, TaggedAddresses: fStrMap, Meta: fStrMap,
  CreateIndex: T.int, ModifyIndex: T.int,
});
// `Kind` is not in corral's JSON (Consul omits it when empty, and corral
// refuses mesh kinds), but filters written for Consul name it
// (`Service.Kind != "connect-proxy"`): it reads as "".
const fCatalogService = T.struct({
  Kind: T.string, ID: T.string, Service: T.string, Tags: T.slice(T.string), Address: T.string, Meta: fStrMap, Port: T.int, Weights: fWeights,
  EnableTagOverride: T.bool, TaggedAddresses: fServiceTagged, CreateIndex: T.int, ModifyIndex: T.int,
});
const fHealthCheck = T.struct({
  Node: T.string, CheckID: T.string, Name: T.string, Status: T.string, Notes: T.string, Output: T.string, ServiceID: T.string,
  ServiceName: T.string, ServiceTags: T.slice(T.string), Type: T.string, Definition: T.map(T.any), CreateIndex: T.int, ModifyIndex: T.int,
});

export const FilterTypes = {
  /** catalog/nodes */
  node: fNode,
  /** catalog/service/:s, and catalog/services (filtered instance by instance, then grouped) */
  serviceNode: T.struct({
    ID: T.string, Node: T.string, Address: T.string, Datacenter: T.string, TaggedAddresses: fStrMap, NodeMeta: fStrMap,
    ServiceKind: T.string, ServiceID: T.string, ServiceName: T.string, ServiceTags: T.slice(T.string), ServiceAddress: T.string,
    ServicePort: T.int, ServiceMeta: fStrMap, ServiceWeights: fWeights, ServiceTaggedAddresses: fServiceTagged,
    ServiceEnableTagOverride: T.bool, CreateIndex: T.int, ModifyIndex: T.int,
  }),
  /** catalog/node/:n (its Services) */
  catalogService: fCatalogService,
  /** agent/services */
  agentService: T.struct({
    Kind: T.string, ID: T.string, Service: T.string, Tags: T.slice(T.string), Meta: fStrMap, Port: T.int, Address: T.string,
    TaggedAddresses: fServiceTagged, Weights: fWeights, EnableTagOverride: T.bool, Datacenter: T.string,
  }),
  /** health/checks/:s, health/node/:n, health/state/:st, agent/checks */
  healthCheck: fHealthCheck,
  /** health/service/:s */
  serviceEntry: T.struct({ Node: fNode, Service: fCatalogService, Checks: T.slice(fHealthCheck) }),
};
