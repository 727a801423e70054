// Bodies of PUT /v1/catalog/register and /v1/catalog/deregister (Consul's
// low-level catalog API, for external nodes and services: a database no
// agent runs beside, an appliance). Field names as Consul's, matched
// case-insensitively. Checks here are plain statuses (Consul's HealthCheck):
// nothing runs them; whoever registers them updates them.
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  type CatalogCheckDef, type CatalogServiceDef, consulError, isUuid, MAX_CHECKS_PER_WRITE,
} from "../../core/sdk/index.ts";
import { canonicalKeys, checkStatus, decodeObject, isObject } from "./check-definition.ts";
import { assertUniqueCheckIds, checkList, parseServiceRegistration } from "./definition.ts";

const REGISTER_FIELDS = ["ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta", "Service", "Check", "Checks", "SkipNodeUpdate"] as const;
const SERVICE_FIELDS = ["ID", "Service", "Tags", "Address", "Port", "Meta", "Weights", "TaggedAddresses", "EnableTagOverride", "Kind", "Proxy", "Connect", "Namespace", "Partition"] as const;
const CHECK_FIELDS = ["Node", "CheckID", "ID", "Name", "Status", "Notes", "Output", "ServiceID", "Type", "Definition", "Namespace", "Partition"] as const;
const DEREGISTER_FIELDS = ["Node", "Datacenter", "ServiceID", "CheckID", "Namespace", "Partition"] as const;

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const RegisterBody = z.object({
  ID: z.string().max(128).optional(),
  Node: z.string().max(128).optional(),
  Address: z.string().max(300).optional(),
  Datacenter: z.string().max(64).optional(),
  SkipNodeUpdate: z.boolean().optional(),
});
const CheckBody = z.object({
  Node: z.string().max(128).optional(),
  CheckID: z.string().max(256).optional(),
  ID: z.string().max(256).optional(),
  Name: z.string().max(256).optional(),
  Status: z.string().max(16).optional(),
  Notes: z.string().max(4096).optional(),
  Output: z.string().max(4096).optional(),
  ServiceID: z.string().max(256).optional(),
  Type: z.string().max(32).optional(),
  Definition: z.record(z.string().max(64), z.unknown()).nullable().optional(),
});
const DeregisterBody = z.object({
  Node: z.string().max(128).optional(),
  Datacenter: z.string().max(64).optional(),
  ServiceID: z.string().max(256).optional(),
  CheckID: z.string().max(256).optional(),
});

export interface CatalogRegistration {
  /** The body's ID, when it gave one. */
  nodeId?: string;
  node: string;
  address: string;
  datacenter?: string;
  skipNodeUpdate: boolean;
  service?: CatalogServiceDef;
  checks: CatalogCheckDef[];
}

export interface CatalogDeregistration {
  node: string;
  datacenter?: string;
  serviceId?: string;
  checkId?: string;
}

/** The id corral gives an external node registered without one: the same for the same name, so registering again updates it. */
export function externalNodeId(name: string): string {
  const h = createHash("sha256").update(`corral/catalog-node/${name.toLowerCase()}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Node fields kept only for members (no column for external nodes): refused rather than silently dropped. */
function refuseNonEmpty(canon: Record<string, unknown>, field: string): void {
  const v = canon[field];
  if (v === undefined || v === null || (isObject(v) && Object.keys(v).length === 0)) return;
  throw consulError(400, `${field} is not supported on /v1/catalog/register (corral keeps node metadata for member nodes only)`);
}

function parseService(raw: unknown): CatalogServiceDef {
  if (!isObject(raw)) throw consulError(400, "Request decode failed: Service must be a JSON object");
  // AgentService names the service "Service"; the agent's definition parser (its rules, meta checks, mesh refusal) wants "Name".
  const canon = canonicalKeys(raw, SERVICE_FIELDS);
  const { Service: name, ...rest } = canon;
  return parseServiceRegistration({ ...rest, Name: name }).service;
}

function parseCatalogCheck(raw: unknown, node: string): CatalogCheckDef {
  const b = decodeObject(raw, "a check", CHECK_FIELDS, CheckBody, "Check.").body;
  if (b.Node && b.Node.toLowerCase() !== node.toLowerCase()) throw consulError(400, `Check node "${b.Node.slice(0, 128)}" does not match the registration's node "${node}"`);
  const id = b.CheckID || b.ID || b.Name;
  if (!id) throw consulError(400, "Missing check ID");
  const status = checkStatus(b.Status);
  return {
    id, name: b.Name || id, status, notes: b.Notes ?? "", output: b.Output ?? "",
    serviceId: b.ServiceID ?? "", // as in Consul: a check belongs to a service only when it names it
    type: b.Type ?? "", definition: b.Definition ?? {},
  };
}

export function parseCatalogRegistration(raw: unknown): CatalogRegistration {
  const { canon, body: b } = decodeObject(raw, "body", REGISTER_FIELDS, RegisterBody);
  if (!b.Node) throw consulError(400, "Must provide node");
  if (!NODE_NAME.test(b.Node)) throw consulError(400, `Invalid node name "${b.Node.slice(0, 128)}": letters, digits, '.', '_' and '-'`);
  if (b.ID !== undefined && b.ID !== "" && !isUuid(b.ID)) throw consulError(400, "Invalid node ID: must be a UUID");
  if (!b.SkipNodeUpdate && !b.Address) throw consulError(400, "Must provide address if SkipNodeUpdate is not set");
  refuseNonEmpty(canon, "NodeMeta");
  refuseNonEmpty(canon, "TaggedAddresses");
  const service = canon.Service === undefined || canon.Service === null ? undefined : parseService(canon.Service);
  const list = checkList(canon, MAX_CHECKS_PER_WRITE, `a registration may carry at most ${MAX_CHECKS_PER_WRITE} checks`);
  const checks = list.map((c) => parseCatalogCheck(c, b.Node!));
  assertUniqueCheckIds(checks);
  return {
    ...(b.ID ? { nodeId: b.ID.toLowerCase() } : {}),
    node: b.Node, address: b.Address ?? "", ...(b.Datacenter ? { datacenter: b.Datacenter } : {}),
    skipNodeUpdate: b.SkipNodeUpdate ?? false, ...(service ? { service } : {}), checks,
  };
}

export function parseCatalogDeregistration(raw: unknown): CatalogDeregistration {
  const b = decodeObject(raw, "body", DEREGISTER_FIELDS, DeregisterBody).body;
  if (!b.Node) throw consulError(400, "Must provide node");
  if (b.ServiceID && b.CheckID) throw consulError(400, "Provide ServiceID or CheckID, not both");
  return {
    node: b.Node, ...(b.Datacenter ? { datacenter: b.Datacenter } : {}),
    ...(b.ServiceID ? { serviceId: b.ServiceID } : {}), ...(b.CheckID ? { checkId: b.CheckID } : {}),
  };
}
