// Service-to-service intentions (Consul's /v1/connect/intentions): commands
// and appliers. One intention per (source, destination) pair, as in Consul.
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import { intentions } from "../../store/schema.ts";
import type { CommandResult } from "../result.ts";

const name = z.string().min(1).max(256);

export const IntentionSet = z.object({
  type: z.literal("IntentionSet"), v: z.literal(1), at: z.number(),
  /** create: refuse an existing pair (POST); upsert: replace it, keeping its id (PUT .../exact). */
  mode: z.enum(["create", "upsert", "update"]),
  intention: z.object({
    id: z.string().min(1).max(128),
    source: name,
    destination: name,
    action: z.enum(["allow", "deny"]),
    description: z.string().max(1024),
    meta: z.record(z.string().max(128), z.string().max(512)),
  }),
});

export const IntentionDelete = z.object({
  type: z.literal("IntentionDelete"), v: z.literal(1), at: z.number(),
  id: z.string().min(1).max(128),
});

export const intentionCommands = [IntentionSet, IntentionDelete] as const;

function applyIntentionSet(db: Db, index: number, cmd: z.infer<typeof IntentionSet>): CommandResult {
  const i = cmd.intention;
  const pair = db.select().from(intentions).where(and(eq(intentions.source, i.source), eq(intentions.destination, i.destination))).get();
  const byId = db.select().from(intentions).where(eq(intentions.id, i.id)).get();
  if (cmd.mode === "create" && (pair || byId)) {
    return { ok: false, code: "INTENTION_TAKEN", message: `duplicate intention found: ${i.source} => ${i.destination}` };
  }
  if (cmd.mode === "update") {
    if (!byId) return { ok: false, code: "INTENTION_NOT_FOUND", message: `no intention with ID ${i.id}` };
    if (pair && pair.id !== i.id) return { ok: false, code: "INTENTION_TAKEN", message: `duplicate intention found: ${i.source} => ${i.destination}` };
  }
  const target = cmd.mode === "update" ? byId : pair;
  if (target) {
    db.update(intentions).set({
      source: i.source, destination: i.destination, action: i.action, description: i.description, meta: i.meta, updatedAt: cmd.at, modifyIndex: index,
    }).where(eq(intentions.id, target.id)).run();
    return { ok: true, value: { id: target.id } };
  }
  db.insert(intentions).values({ ...i, createdAt: cmd.at, updatedAt: cmd.at, createIndex: index, modifyIndex: index }).run();
  return { ok: true, value: { id: i.id } };
}

function applyIntentionDelete(db: Db, _index: number, cmd: z.infer<typeof IntentionDelete>): CommandResult {
  const existing = db.select({ id: intentions.id }).from(intentions).where(eq(intentions.id, cmd.id)).get();
  if (!existing) return { ok: false, code: "INTENTION_NOT_FOUND", message: `no intention with ID ${cmd.id}` };
  db.delete(intentions).where(eq(intentions.id, cmd.id)).run();
  return { ok: true, value: true };
}

export const intentionAppliers = {
  IntentionSet: { tables: ["intentions"], apply: applyIntentionSet },
  IntentionDelete: { tables: ["intentions"], apply: applyIntentionDelete },
};
