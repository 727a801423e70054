// Service definitions of PUT /v1/agent/service/register (reference §4.1) and
// of `corral service register FILE`: Consul's field names, matched
// case-insensitively and in snake_case; defaults and limits as Consul's.
import { z } from "zod";
import { type CatalogServiceDef, consulError, MAX_META_PAIRS } from "../../core/sdk/index.ts";
import { canonicalKeys, decodeError, decodeObject, isObject, parseCheck, type CheckSpec } from "./check-definition.ts";

export type { CheckSpec } from "./check-definition.ts";

export interface ServiceRegistration {
  service: CatalogServiceDef;
  checks: CheckSpec[];
}

/** Checks one service may declare: each is a timer or a probe on its agent. */
export const MAX_CHECKS_PER_SERVICE = 32;

const SERVICE_FIELDS = [
  "ID", "Name", "Tags", "Address", "Port", "Meta", "Check", "Checks", "EnableTagOverride", "Weights",
  "TaggedAddresses", "Kind", "Proxy", "Connect", "Namespace", "Partition",
] as const;

const port = z.number().int().min(0).max(65535);
const ServiceBody = z.object({
  ID: z.string().max(256).optional(),
  Name: z.string().max(256).optional(),
  Tags: z.array(z.string().max(512)).max(256).nullable().optional(),
  Address: z.string().max(300).optional(),
  Port: port.optional(),
  Meta: z.record(z.string(), z.string()).nullable().optional(),
  EnableTagOverride: z.boolean().optional(),
  Kind: z.string().max(64).optional(),
  Namespace: z.string().max(64).optional(),
  Partition: z.string().max(64).optional(),
});
const Weights = z.object({ Passing: z.number().int().min(1).max(65535).optional(), Warning: z.number().int().min(0).max(65535).optional() });
const TaggedAddress = z.object({ Address: z.string().max(300).optional(), Port: port.optional() });

/** Consul's meta rules (structs.ValidateServiceMetadata). */
export function validateMeta(meta: Record<string, string>): void {
  const keys = Object.keys(meta);
  if (keys.length > MAX_META_PAIRS) throw consulError(400, `Invalid Service Meta: cannot contain more than ${MAX_META_PAIRS} key/value pairs`);
  for (const k of keys) {
    if (k === "") throw consulError(400, "Invalid Service Meta: Key cannot be blank");
    if (k.length > 128) throw consulError(400, "Invalid Service Meta: Key is too long (limit: 128 characters)");
    if (!/^[A-Za-z0-9_-]+$/.test(k)) throw consulError(400, `Invalid Service Meta: Key contains invalid characters: ${k.slice(0, 40)}`);
    if (k.startsWith("consul-")) throw consulError(400, "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use");
    if (meta[k]!.length > 512) throw consulError(400, "Invalid Service Meta: Value is too long (limit: 512 characters)");
  }
}

function parseWeights(v: unknown): CatalogServiceDef["weights"] {
  if (v === undefined || v === null) return { passing: 1, warning: 1 };
  if (!isObject(v)) throw consulError(400, "Request decode failed: Weights must be an object");
  const w = Weights.safeParse(canonicalKeys(v, ["Passing", "Warning"]));
  if (!w.success) throw decodeError("Weights.", w.error);
  return { passing: w.data.Passing ?? 1, warning: w.data.Warning ?? 1 };
}

function parseTaggedAddresses(v: unknown): CatalogServiceDef["taggedAddresses"] {
  if (v === undefined || v === null) return {};
  if (!isObject(v) || Object.keys(v).length > 16) throw consulError(400, "Request decode failed: TaggedAddresses must be an object of {Address, Port}");
  const out: CatalogServiceDef["taggedAddresses"] = {};
  for (const [k, a] of Object.entries(v)) {
    if (k.length > 64 || !isObject(a)) throw consulError(400, "Request decode failed: TaggedAddresses must be an object of {Address, Port}");
    const t = TaggedAddress.safeParse(canonicalKeys(a, ["Address", "Port"]));
    if (!t.success) throw decodeError(`TaggedAddresses.${k}.`, t.error);
    out[k] = { address: t.data.Address ?? "", port: t.data.Port ?? 0 };
  }
  return out;
}

function refuseMesh(canon: Record<string, unknown>, kind: string | undefined) {
  if (kind && kind !== "typical") throw consulError(400, `service Kind "${kind.slice(0, 40)}" is not supported (no service mesh)`);
  for (const k of ["Proxy", "Connect"]) {
    const v = canon[k];
    if (v !== undefined && v !== null && !(isObject(v) && Object.keys(v).length === 0)) {
      throw consulError(400, `${k} is not supported (no service mesh)`);
    }
  }
}

/** A body's Check and Checks together (still to be parsed), at most `max` of them (else 400 `tooMany`). */
export function checkList(canon: Record<string, unknown>, max: number, tooMany: string): unknown[] {
  const list: unknown[] = [];
  if (canon.Check !== undefined && canon.Check !== null) list.push(canon.Check);
  if (canon.Checks !== undefined && canon.Checks !== null) {
    if (!Array.isArray(canon.Checks)) throw consulError(400, "Request decode failed: Checks must be an array");
    list.push(...canon.Checks);
  }
  if (list.length > max) throw consulError(400, tooMany);
  return list;
}

/** Check ids must differ within one registration. */
export function assertUniqueCheckIds(checks: { id: string }[]): void {
  const ids = new Set<string>();
  for (const c of checks) {
    if (ids.has(c.id)) throw consulError(400, `duplicate CheckID "${c.id}"`);
    ids.add(c.id);
  }
}

/** Parses a register body (already JSON-decoded). Throws Consul-style 400s. `allowExec`: accept Args checks. */
export function parseServiceRegistration(raw: unknown, opts: { allowExec?: boolean } = {}): ServiceRegistration {
  const { canon, body: b } = decodeObject(raw, "body", SERVICE_FIELDS, ServiceBody);
  if (!b.Name) throw consulError(400, "Missing service name");
  refuseMesh(canon, b.Kind);
  const meta = b.Meta ?? {};
  validateMeta(meta);
  const service: CatalogServiceDef = {
    id: b.ID || b.Name, name: b.Name, tags: b.Tags ?? [], address: b.Address ?? "", port: b.Port ?? 0, meta,
    weights: parseWeights(canon.Weights), taggedAddresses: parseTaggedAddresses(canon.TaggedAddresses),
    enableTagOverride: b.EnableTagOverride ?? false,
  };
  const list = checkList(canon, MAX_CHECKS_PER_SERVICE, `a service may have at most ${MAX_CHECKS_PER_SERVICE} checks`);
  const checks = list.map((c, i) =>
    parseCheck(c, { service: { id: service.id, name: service.name, position: i + 1, count: list.length }, allowExec: opts.allowExec }),
  );
  assertUniqueCheckIds(checks);
  return { service, checks };
}

/** JSON.parse with a Consul-style 400 instead of a throw. */
export function decodeJson(text: string): unknown {
  if (text.trim() === "") throw consulError(400, "Request decode failed: EOF");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw consulError(400, `Request decode failed: ${(err as Error).message}`.slice(0, 200));
  }
}
