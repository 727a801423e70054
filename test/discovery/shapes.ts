// Response shapes of the Consul-compatible endpoints (reference §4–§6): exact
// field names and JSON types, checked strictly (no missing, no extra keys),
// so a renamed field or a null where Consul has [] fails a test.
import { expect } from "bun:test";

export type Shape =
  | "string" | "number" | "boolean" | "null" | "any"
  | { map: Shape } // an object used as a map: any keys, values of one shape
  | { array: Shape }
  | { nullable: Shape }
  | { optional: Shape }
  | { [field: string]: Shape };

function isSpecial(s: object): s is { map: Shape } | { array: Shape } | { nullable: Shape } | { optional: Shape } {
  const keys = Object.keys(s);
  return keys.length === 1 && ["map", "array", "nullable", "optional"].includes(keys[0]!);
}

/** Problems of `value` against `shape`, as "path: reason" lines. */
export function shapeProblems(value: unknown, shape: Shape, path = "$"): string[] {
  if (typeof shape === "string") {
    if (shape === "any") return [];
    const t = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    return t === shape ? [] : [`${path}: expected ${shape}, got ${t}`];
  }
  if (isSpecial(shape)) {
    if ("nullable" in shape) return value === null ? [] : shapeProblems(value, shape.nullable, path);
    if ("optional" in shape) return value === undefined ? [] : shapeProblems(value, shape.optional, path);
    if ("array" in shape) {
      if (!Array.isArray(value)) return [`${path}: expected array, got ${value === null ? "null" : typeof value}`];
      return value.flatMap((v, i) => shapeProblems(v, shape.array, `${path}[${i}]`));
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected map object`];
    return Object.entries(value).flatMap(([k, v]) => shapeProblems(v, shape.map, `${path}.${k}`));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected object, got ${value === null ? "null" : typeof value}`];
  const obj = value as Record<string, unknown>;
  const out: string[] = [];
  for (const [k, s] of Object.entries(shape)) {
    if (!(k in obj) && !(typeof s === "object" && "optional" in s)) out.push(`${path}.${k}: missing`);
    else out.push(...shapeProblems(obj[k], s, `${path}.${k}`));
  }
  for (const k of Object.keys(obj)) if (!(k in shape)) out.push(`${path}.${k}: unexpected field`);
  return out;
}

export function expectShape(value: unknown, shape: Shape): void {
  expect(shapeProblems(value, shape)).toEqual([]);
}

const strMap: Shape = { map: "string" };
const weights: Shape = { Passing: "number", Warning: "number" };
const svcTagged: Shape = { map: { Address: "string", Port: "number" } };

export const NODE: Shape = {
  ID: "string", Node: "string", Address: "string", Datacenter: "string", TaggedAddresses: strMap, Meta: strMap,
  CreateIndex: "number", ModifyIndex: "number",
};

export const AGENT_SERVICE: Shape = {
  ID: "string", Service: "string", Tags: { array: "string" }, Meta: strMap, Port: "number", Address: "string",
  TaggedAddresses: svcTagged, Weights: weights, EnableTagOverride: "boolean", Datacenter: "string",
};

export const CATALOG_SERVICE: Shape = {
  ID: "string", Service: "string", Tags: { array: "string" }, Address: "string", Meta: strMap, Port: "number",
  Weights: weights, EnableTagOverride: "boolean", TaggedAddresses: svcTagged, CreateIndex: "number", ModifyIndex: "number",
};

export const HEALTH_CHECK: Shape = {
  Node: "string", CheckID: "string", Name: "string", Status: "string", Notes: "string", Output: "string",
  ServiceID: "string", ServiceName: "string", ServiceTags: { array: "string" }, Type: "string",
  Definition: { map: "any" }, CreateIndex: "number", ModifyIndex: "number",
};

export const SERVICE_NODE: Shape = {
  ID: "string", Node: "string", Address: "string", Datacenter: "string", TaggedAddresses: strMap, NodeMeta: strMap,
  ServiceKind: "string", ServiceID: "string", ServiceName: "string", ServiceTags: { array: "string" },
  ServiceAddress: "string", ServicePort: "number", ServiceMeta: strMap, ServiceWeights: weights,
  ServiceTaggedAddresses: svcTagged, ServiceEnableTagOverride: "boolean", CreateIndex: "number", ModifyIndex: "number",
};

export const MEMBER: Shape = {
  Name: "string", Addr: "string", Port: "number", Tags: strMap, Status: "number",
  ProtocolMin: "number", ProtocolMax: "number", ProtocolCur: "number", DelegateMin: "number", DelegateMax: "number", DelegateCur: "number",
};

export const SHAPES = {
  "GET /v1/agent/services": { map: AGENT_SERVICE },
  "GET /v1/agent/service/:id": { ...AGENT_SERVICE, ContentHash: "string" },
  "GET /v1/agent/checks": { map: HEALTH_CHECK },
  "GET /v1/agent/members": { array: MEMBER },
  "GET /v1/catalog/datacenters": { array: "string" },
  "GET /v1/catalog/nodes": { array: NODE },
  "GET /v1/catalog/services": { map: { array: "string" } },
  "GET /v1/catalog/service/:name": { array: SERVICE_NODE },
  "GET /v1/catalog/node/:node": { Node: NODE, Services: { map: CATALOG_SERVICE } },
  "GET /v1/health/service/:name": { array: { Node: NODE, Service: CATALOG_SERVICE, Checks: { array: HEALTH_CHECK } } },
  "GET /v1/health/checks/:name": { array: HEALTH_CHECK },
  "GET /v1/health/node/:node": { array: HEALTH_CHECK },
  "GET /v1/health/state/:state": { array: HEALTH_CHECK },
  "GET /v1/status/leader": "string",
  "GET /v1/status/peers": { array: "string" },
} satisfies Record<string, Shape>;
