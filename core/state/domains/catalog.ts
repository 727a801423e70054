// The service catalog (Consul's catalog and health state): commands and
// appliers. The owning agent is the source of truth for its node's services
// and checks; each command carries the agent's view and the appliers only
// touch rows whose content changed, so a repeated command (a retry, a
// periodic anti-entropy sync) moves no index (reference B5).
//
// Index rules:
// - a row's modify_index moves when a field a client can see changes,
//   except a check's output alone (Consul defers output-only updates too);
// - a deleted row leaves a tombstone (catalog_tombstones) so that a query
//   whose result lost that row still sees its index advance.
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { catalogNodes, catalogTombstones, checks, services } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";
import { stableJson } from "../../stable-json.ts";

/** Consul's limits on service meta (agent/structs validation). */
export const MAX_META_PAIRS = 64;
/**
 * Bounds every agent's registration set: a full sync carries all of it in
 * one log entry, which an agent sends as one request (typical services fit
 * the leader's default 1 MiB http.max_body_bytes at these counts).
 */
export const MAX_SERVICES_PER_NODE = 1_000;
export const MAX_CHECKS_PER_NODE = 2_000;
/**
 * The most a node may be configured to (plugins.discovery.max_*_per_node):
 * what SyncNodeServices accepts. Fixed here, not in plugin config, so every
 * replica validates the log the same way.
 */
export const NODE_SERVICES_CAP = 10_000;
export const NODE_CHECKS_CAP = 20_000;
/** Consul's default check_output_max_size. */
export const MAX_CHECK_OUTPUT = 4_096;

const id = z.string().min(1).max(256);

export const NodeRef = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  /** Host only (no port): Consul's Node.Address. */
  address: z.string().max(300),
  datacenter: z.string().max(64),
});
export type NodeRef = z.infer<typeof NodeRef>;

export const CatalogServiceDef = z.object({
  id,
  name: id,
  tags: z.array(z.string().max(512)).max(256),
  address: z.string().max(300),
  port: z.number().int().min(0).max(65535),
  meta: z.record(z.string().max(128), z.string().max(512)).refine((m) => Object.keys(m).length <= MAX_META_PAIRS, "too many meta pairs"),
  weights: z.object({ passing: z.number().int().min(1).max(65535), warning: z.number().int().min(0).max(65535) }),
  taggedAddresses: z.record(z.string().max(64), z.object({ address: z.string().max(300), port: z.number().int().min(0).max(65535) })),
  enableTagOverride: z.boolean(),
});
export type CatalogServiceDef = z.infer<typeof CatalogServiceDef>;

export const CheckStatus = z.enum(["passing", "warning", "critical"]);
export type CheckStatus = z.infer<typeof CheckStatus>;

export const CatalogCheckDef = z.object({
  id,
  name: id,
  status: CheckStatus,
  notes: z.string().max(4096),
  output: z.string().max(MAX_CHECK_OUTPUT),
  /** "" = a node-level check. */
  serviceId: z.string().max(256),
  type: z.string().max(32),
  /** Consul's HealthCheck.Definition: durations as quoted Go strings. */
  definition: z.record(z.string().max(64), z.unknown()),
});
export type CatalogCheckDef = z.infer<typeof CatalogCheckDef>;

const base = { v: z.literal(1), at: z.number() };

/** One service and its complete check set, as the owning agent has them. */
export const RegisterService = z.object({
  type: z.literal("RegisterService"), ...base,
  node: NodeRef,
  service: CatalogServiceDef,
  checks: z.array(CatalogCheckDef).max(64),
});

export const DeregisterService = z.object({ type: z.literal("DeregisterService"), ...base, nodeId: id, serviceId: id });

export const RegisterCheck = z.object({ type: z.literal("RegisterCheck"), ...base, node: NodeRef, check: CatalogCheckDef });

export const DeregisterCheck = z.object({ type: z.literal("DeregisterCheck"), ...base, nodeId: id, checkId: id });

export const UpdateCheckStatus = z.object({
  type: z.literal("UpdateCheckStatus"), ...base,
  nodeId: id, checkId: id, status: CheckStatus, output: z.string().max(MAX_CHECK_OUTPUT),
});

/** Anti-entropy: the agent's full set. Rows of that node not in it are removed. */
export const SyncNodeServices = z.object({
  type: z.literal("SyncNodeServices"), ...base,
  node: NodeRef,
  services: z.array(CatalogServiceDef).max(NODE_SERVICES_CAP),
  checks: z.array(CatalogCheckDef).max(NODE_CHECKS_CAP),
});

/** Checks one catalog write may carry. */
export const MAX_CHECKS_PER_WRITE = 64;

/**
 * PUT /v1/catalog/register: a node (external ones included), optionally a
 * service and checks on it. Nothing else of the node changes (unlike the
 * agent's sync); an agent's anti-entropy later removes from its own node what
 * it does not have, as in Consul.
 */
export const CatalogRegister = z.object({
  type: z.literal("CatalogRegister"), ...base,
  node: NodeRef,
  service: CatalogServiceDef.optional(),
  checks: z.array(CatalogCheckDef).max(MAX_CHECKS_PER_WRITE),
});

/** PUT /v1/catalog/deregister: one check, one service (with its checks), or the node's whole catalog entry. */
export const CatalogDeregister = z.object({
  type: z.literal("CatalogDeregister"), ...base,
  nodeId: id,
  serviceId: z.string().max(256).optional(),
  checkId: z.string().max(256).optional(),
});

export const catalogCommands = [RegisterService, DeregisterService, RegisterCheck, DeregisterCheck, UpdateCheckStatus, SyncNodeServices, CatalogRegister, CatalogDeregister] as const;

// ---- row helpers ----

/**
 * What a node has in the catalog, as one hash: the agent compares it with
 * its own registrations and skips the periodic full sync when they agree
 * (so an idle cluster writes nothing to the log).
 */
export function registrationDigest(node: NodeRef | undefined, svcs: CatalogServiceDef[], chks: CatalogCheckDef[]): string {
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = node && { name: node.name, address: node.address, datacenter: node.datacenter };
  // Row by row (JSON has no raw newline, so "\n" separates unambiguously): a node with 10,000
  // checks hashes many small strings instead of building one of several MB every sync_interval.
  const h = createHash("sha256").update(stableJson(n ?? null));
  for (const svc of byId(svcs)) h.update("\ns" + stableJson(svc));
  for (const chk of byId(chks)) h.update("\nc" + stableJson(chk));
  return h.digest("hex");
}

function tombstone(db: Db, kind: "service" | "node" | "nodecheck", key: string, index: number) {
  db.insert(catalogTombstones).values({ kind, key, deleteIndex: index })
    .onConflictDoUpdate({ target: [catalogTombstones.kind, catalogTombstones.key], set: { deleteIndex: index } }).run();
}

const svcKey = (nodeId: string, serviceId: string) => and(eq(services.nodeId, nodeId), eq(services.serviceId, serviceId));
const chkKey = (nodeId: string, checkId: string) => and(eq(checks.nodeId, nodeId), eq(checks.checkId, checkId));

function upsertNode(db: Db, index: number, n: NodeRef) {
  const existing = db.select().from(catalogNodes).where(eq(catalogNodes.id, n.id)).get();
  if (!existing) {
    db.insert(catalogNodes).values({ ...n, createIndex: index, modifyIndex: index }).run();
  } else if (existing.name !== n.name || existing.address !== n.address || existing.datacenter !== n.datacenter) {
    db.update(catalogNodes).set({ ...n, modifyIndex: index }).where(eq(catalogNodes.id, n.id)).run();
  }
}

function serviceContent(s: CatalogServiceDef): string {
  const { id: _id, ...rest } = s;
  return stableJson(rest);
}

function upsertService(db: Db, index: number, nodeId: string, s: CatalogServiceDef) {
  const existing = db.select().from(services).where(svcKey(nodeId, s.id)).get();
  if (!existing) {
    db.insert(services).values({ nodeId, serviceId: s.id, ...rest(s), createIndex: index, modifyIndex: index }).run();
    return;
  }
  const old: CatalogServiceDef = { id: existing.serviceId, ...rest(existing) };
  if (serviceContent(old) === serviceContent(s)) return;
  // A renamed instance leaves the old name's result sets: their indexes must move.
  if (existing.name.toLowerCase() !== s.name.toLowerCase()) tombstone(db, "service", existing.name.toLowerCase(), index);
  db.update(services).set({ ...rest(s), modifyIndex: index }).where(svcKey(nodeId, s.id)).run();
}

function rest(s: Omit<CatalogServiceDef, "id">) {
  return {
    name: s.name, tags: s.tags, address: s.address, port: s.port, meta: s.meta,
    weights: s.weights, taggedAddresses: s.taggedAddresses, enableTagOverride: s.enableTagOverride,
  };
}

function serviceName(db: Db, nodeId: string, serviceId: string): string | undefined {
  if (!serviceId) return undefined;
  return db.select({ name: services.name }).from(services).where(svcKey(nodeId, serviceId)).get()?.name;
}

/** Marks the result sets a check belongs to as changed by a delete or a move. */
function checkLeft(db: Db, index: number, nodeId: string, serviceId: string) {
  tombstone(db, "node", nodeId, index);
  const name = serviceName(db, nodeId, serviceId);
  if (name !== undefined) tombstone(db, "service", name.toLowerCase(), index);
  else if (!serviceId) tombstone(db, "nodecheck", nodeId, index);
}

function upsertCheck(db: Db, index: number, nodeId: string, c: CatalogCheckDef) {
  const existing = db.select().from(checks).where(chkKey(nodeId, c.id)).get();
  const row = { name: c.name, status: c.status, notes: c.notes, output: c.output, serviceId: c.serviceId, type: c.type, definition: c.definition };
  if (!existing) {
    db.insert(checks).values({ nodeId, checkId: c.id, ...row, createIndex: index, modifyIndex: index }).run();
    return;
  }
  const visible = (r: typeof row) => stableJson([r.name, r.status, r.notes, r.serviceId, r.type, r.definition]);
  if (visible(existing) === visible(row)) {
    // B5: output-only changes are stored but move no index.
    if (existing.output !== c.output) db.update(checks).set({ output: c.output }).where(chkKey(nodeId, c.id)).run();
    return;
  }
  if (existing.serviceId !== c.serviceId) checkLeft(db, index, nodeId, existing.serviceId);
  db.update(checks).set({ ...row, modifyIndex: index }).where(chkKey(nodeId, c.id)).run();
}

function removeCheck(db: Db, index: number, nodeId: string, checkId: string): boolean {
  const existing = db.select({ serviceId: checks.serviceId }).from(checks).where(chkKey(nodeId, checkId)).get();
  if (!existing) return false;
  checkLeft(db, index, nodeId, existing.serviceId);
  db.delete(checks).where(chkKey(nodeId, checkId)).run();
  return true;
}

function removeService(db: Db, index: number, nodeId: string, serviceId: string): boolean {
  const existing = db.select({ name: services.name }).from(services).where(svcKey(nodeId, serviceId)).get();
  if (!existing) return false;
  tombstone(db, "service", existing.name.toLowerCase(), index);
  tombstone(db, "node", nodeId, index);
  db.delete(checks).where(and(eq(checks.nodeId, nodeId), eq(checks.serviceId, serviceId))).run();
  db.delete(services).where(svcKey(nodeId, serviceId)).run();
  return true;
}

// ---- appliers ----

function applyRegisterService(db: Db, index: number, cmd: z.infer<typeof RegisterService>): CommandResult {
  const nodeId = cmd.node.id;
  if (cmd.checks.some((c) => c.serviceId !== cmd.service.id)) {
    return { ok: false, code: "INVALID_CHECK", message: "every check of RegisterService must belong to its service" };
  }
  upsertNode(db, index, cmd.node);
  upsertService(db, index, nodeId, cmd.service);
  const keep = new Set(cmd.checks.map((c) => c.id));
  const current = db.select({ id: checks.checkId }).from(checks).where(and(eq(checks.nodeId, nodeId), eq(checks.serviceId, cmd.service.id))).all();
  for (const c of current) if (!keep.has(c.id)) removeCheck(db, index, nodeId, c.id);
  for (const c of cmd.checks) upsertCheck(db, index, nodeId, c);
  return { ok: true };
}

function applyDeregisterService(db: Db, index: number, cmd: z.infer<typeof DeregisterService>): CommandResult {
  return { ok: true, value: { removed: removeService(db, index, cmd.nodeId, cmd.serviceId) } };
}

function applyRegisterCheck(db: Db, index: number, cmd: z.infer<typeof RegisterCheck>): CommandResult {
  const c = cmd.check;
  if (c.serviceId && serviceName(db, cmd.node.id, c.serviceId) === undefined) {
    return { ok: false, code: "SERVICE_NOT_FOUND", message: `ServiceID "${c.serviceId}" does not exist` };
  }
  upsertNode(db, index, cmd.node);
  upsertCheck(db, index, cmd.node.id, c);
  return { ok: true };
}

function applyDeregisterCheck(db: Db, index: number, cmd: z.infer<typeof DeregisterCheck>): CommandResult {
  return { ok: true, value: { removed: removeCheck(db, index, cmd.nodeId, cmd.checkId) } };
}

function applyUpdateCheckStatus(db: Db, index: number, cmd: z.infer<typeof UpdateCheckStatus>): CommandResult {
  const existing = db.select({ status: checks.status, output: checks.output }).from(checks).where(chkKey(cmd.nodeId, cmd.checkId)).get();
  if (!existing) return { ok: false, code: "CHECK_NOT_FOUND", message: `Unknown check ID "${cmd.checkId}"` };
  if (existing.status !== cmd.status) {
    db.update(checks).set({ status: cmd.status, output: cmd.output, modifyIndex: index }).where(chkKey(cmd.nodeId, cmd.checkId)).run();
    return { ok: true, value: { changed: true } };
  }
  if (existing.output !== cmd.output) db.update(checks).set({ output: cmd.output }).where(chkKey(cmd.nodeId, cmd.checkId)).run();
  return { ok: true, value: { changed: false } };
}

function applySyncNodeServices(db: Db, index: number, cmd: z.infer<typeof SyncNodeServices>): CommandResult {
  const nodeId = cmd.node.id;
  const serviceIds = new Set(cmd.services.map((s) => s.id));
  const orphan = cmd.checks.find((c) => c.serviceId && !serviceIds.has(c.serviceId));
  if (orphan) return { ok: false, code: "INVALID_CHECK", message: `check ${orphan.id} names unknown service ${orphan.serviceId}` };
  upsertNode(db, index, cmd.node);
  // Removals first, so a check moving to a service removed in the same sync is handled once.
  const checkIds = new Set(cmd.checks.map((c) => c.id));
  for (const c of db.select({ id: checks.checkId }).from(checks).where(eq(checks.nodeId, nodeId)).all()) {
    if (!checkIds.has(c.id)) removeCheck(db, index, nodeId, c.id);
  }
  for (const s of db.select({ id: services.serviceId }).from(services).where(eq(services.nodeId, nodeId)).all()) {
    if (!serviceIds.has(s.id)) removeService(db, index, nodeId, s.id);
  }
  for (const s of cmd.services) upsertService(db, index, nodeId, s);
  for (const c of cmd.checks) upsertCheck(db, index, nodeId, c);
  return { ok: true };
}

function applyCatalogRegister(db: Db, index: number, cmd: z.infer<typeof CatalogRegister>): CommandResult {
  const nodeId = cmd.node.id;
  for (const c of cmd.checks) {
    if (c.serviceId && c.serviceId !== cmd.service?.id && serviceName(db, nodeId, c.serviceId) === undefined) {
      return { ok: false, code: "SERVICE_NOT_FOUND", message: `ServiceID "${c.serviceId}" of check "${c.id}" does not exist on node "${cmd.node.name}"` };
    }
  }
  upsertNode(db, index, cmd.node);
  if (cmd.service) upsertService(db, index, nodeId, cmd.service);
  for (const c of cmd.checks) upsertCheck(db, index, nodeId, c);
  return { ok: true };
}

function applyCatalogDeregister(db: Db, index: number, cmd: z.infer<typeof CatalogDeregister>): CommandResult {
  const { nodeId } = cmd;
  if (cmd.checkId) return { ok: true, value: { removed: removeCheck(db, index, nodeId, cmd.checkId) } };
  if (cmd.serviceId) return { ok: true, value: { removed: removeService(db, index, nodeId, cmd.serviceId) } };
  // The whole node: its checks, its services, its registration (a member node stays a member).
  return { ok: true, value: { removed: removeCatalogNode(db, index, nodeId) } };
}

/**
 * Remove a node from the catalog: its checks, its services, its registration,
 * each tombstoned at `index` so blocking queries see the change (X-Consul-Index
 * moves). Shared by CatalogDeregister and the node garbage collector, which
 * also removes the membership row (`member`): the node is then tombstoned even
 * without a registration row, so node lists see it go.
 */
export function removeCatalogNode(db: Db, index: number, nodeId: string, member = false): boolean {
  for (const c of db.select({ id: checks.checkId }).from(checks).where(eq(checks.nodeId, nodeId)).all()) removeCheck(db, index, nodeId, c.id);
  for (const sv of db.select({ id: services.serviceId }).from(services).where(eq(services.nodeId, nodeId)).all()) removeService(db, index, nodeId, sv.id);
  const removed = (db.delete(catalogNodes).where(eq(catalogNodes.id, nodeId)).run() as unknown as { changes: number }).changes > 0;
  if (removed || member) tombstone(db, "node", nodeId, index);
  return removed;
}

/** Every catalog command may touch all four tables; blocking queries pick the ones they read. */
const TABLES = ["services", "checks", "catalog_nodes", "catalog_tombstones"] as const;

export const catalogAppliers = {
  RegisterService: { tables: TABLES, apply: applyRegisterService },
  DeregisterService: { tables: TABLES, apply: applyDeregisterService },
  RegisterCheck: { tables: TABLES, apply: applyRegisterCheck },
  DeregisterCheck: { tables: TABLES, apply: applyDeregisterCheck },
  UpdateCheckStatus: { tables: TABLES, apply: applyUpdateCheckStatus },
  SyncNodeServices: { tables: TABLES, apply: applySyncNodeServices },
  CatalogRegister: { tables: TABLES, apply: applyCatalogRegister },
  CatalogDeregister: { tables: TABLES, apply: applyCatalogDeregister },
};
