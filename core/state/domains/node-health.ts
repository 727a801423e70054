// Node-level health from the leader's threshold checks on heartbeat metrics
// (core/cluster/node-monitor.ts): "warning" once CPU or memory stayed above
// its threshold for leader.threshold_duration, "passing" once back under for
// as long. Only transitions are proposed, so this costs one entry per change,
// never one per heartbeat.
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { nodes } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";

export const NodeHealthStatus = z.enum(["passing", "warning"]);
export type NodeHealthStatus = z.infer<typeof NodeHealthStatus>;

export const SetNodeHealth = z.object({
  type: z.literal("SetNodeHealth"),
  v: z.literal(1),
  at: z.number(),
  nodeId: z.string().min(1),
  /** The node's name when proposed: lets the event stream show it without a lookup. */
  name: z.string().max(128).optional(),
  status: NodeHealthStatus,
  reason: z.string().max(500),
});

export const nodeHealthCommands = [SetNodeHealth] as const;

function applySetNodeHealth(db: Db, index: number, cmd: z.infer<typeof SetNodeHealth>): CommandResult {
  const row = db.select({ health: nodes.health }).from(nodes).where(eq(nodes.id, cmd.nodeId)).get();
  if (!row) return { ok: false, code: "NODE_NOT_FOUND", message: `no node ${cmd.nodeId}` };
  if (row.health === cmd.status) return { ok: true, value: { changed: false } };
  db.update(nodes)
    .set({ health: cmd.status, healthReason: cmd.reason, healthChangedAt: cmd.at, modifyIndex: index })
    .where(eq(nodes.id, cmd.nodeId))
    .run();
  return { ok: true, value: { changed: true } };
}

export const nodeHealthAppliers = {
  SetNodeHealth: { tables: ["nodes"], apply: applySetNodeHealth },
};
