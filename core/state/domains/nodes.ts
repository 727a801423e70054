// Node membership: commands and their appliers. Appliers are pure functions
// of (db, index, command): no clocks, no randomness, so every replica
// applying the same log agrees.
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { nodes } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";

const resources = z.object({
  cpuMhz: z.number().nonnegative(),
  cores: z.number().int().nonnegative(),
  memoryBytes: z.number().nonnegative(),
  diskBytes: z.number().nonnegative(),
});

const reserved = z.object({ cpuMhz: z.number().nonnegative(), memoryBytes: z.number().nonnegative() });

export const RegisterNode = z.object({
  type: z.literal("RegisterNode"),
  v: z.literal(1),
  at: z.number(), // proposer's clock, ms since epoch
  node: z.object({
    id: z.string().min(1),
    name: z.string().min(1),
    address: z.string(),
    datacenter: z.string(),
    role: z.enum(["agent", "dev"]),
    attributes: z.record(z.string(), z.string()),
    resources,
    reserved,
    meta: z.record(z.string(), z.string()),
  }),
});

export const SetNodeStatus = z.object({
  type: z.literal("SetNodeStatus"),
  v: z.literal(1),
  at: z.number(),
  nodeId: z.string().min(1),
  status: z.enum(["ready", "down"]),
  reason: z.string().optional(),
  /** The node's name when proposed, for the event stream (optional: older entries lack it). */
  name: z.string().max(128).optional(),
});

export const DeregisterNode = z.object({
  type: z.literal("DeregisterNode"),
  v: z.literal(1),
  at: z.number(),
  nodeId: z.string().min(1),
});

export const nodeCommands = [RegisterNode, SetNodeStatus, DeregisterNode] as const;

export function applyRegisterNode(db: Db, index: number, cmd: z.infer<typeof RegisterNode>): CommandResult {
  const n = cmd.node;
  // Node names are unique among live nodes, as in Consul and Nomad: a second
  // machine claiming a name that a ready node holds is a mis-configuration.
  const sameName = db.select({ id: nodes.id, status: nodes.status }).from(nodes).where(eq(nodes.name, n.name)).all();
  const clash = sameName.find((r) => r.id !== n.id && r.status === "ready");
  if (clash) {
    return { ok: false, code: "NODE_NAME_TAKEN", message: `node name "${n.name}" is in use by ready node ${clash.id}` };
  }
  const existing = db.select().from(nodes).where(eq(nodes.id, n.id)).get();
  const row = {
    id: n.id,
    name: n.name,
    address: n.address,
    datacenter: n.datacenter,
    role: n.role,
    status: "ready",
    attributes: n.attributes,
    resources: n.resources,
    reserved: n.reserved,
    meta: n.meta,
    statusChangedAt: existing && existing.status === "ready" ? existing.statusChangedAt : cmd.at,
    createIndex: existing ? existing.createIndex : index,
    modifyIndex: index,
  };
  if (existing) db.update(nodes).set(row).where(eq(nodes.id, n.id)).run();
  else db.insert(nodes).values(row).run();
  return { ok: true, value: { id: n.id, created: !existing } };
}

export function applySetNodeStatus(db: Db, index: number, cmd: z.infer<typeof SetNodeStatus>): CommandResult {
  const existing = db.select({ status: nodes.status }).from(nodes).where(eq(nodes.id, cmd.nodeId)).get();
  if (!existing) return { ok: false, code: "NODE_NOT_FOUND", message: `no node ${cmd.nodeId}` };
  if (existing.status === cmd.status) return { ok: true, value: { changed: false } };
  db.update(nodes)
    .set({ status: cmd.status, statusChangedAt: cmd.at, modifyIndex: index })
    .where(eq(nodes.id, cmd.nodeId))
    .run();
  return { ok: true, value: { changed: true } };
}

export function applyDeregisterNode(db: Db, _index: number, cmd: z.infer<typeof DeregisterNode>): CommandResult {
  const r = db.delete(nodes).where(eq(nodes.id, cmd.nodeId)).run() as unknown as { changes: number };
  if (!r.changes) return { ok: false, code: "NODE_NOT_FOUND", message: `no node ${cmd.nodeId}` };
  return { ok: true };
}

export const nodeAppliers = {
  RegisterNode: { tables: ["nodes"], apply: applyRegisterNode },
  SetNodeStatus: { tables: ["nodes"], apply: applySetNodeStatus },
  DeregisterNode: { tables: ["nodes"], apply: applyDeregisterNode },
};
