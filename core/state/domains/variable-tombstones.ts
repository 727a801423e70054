// Reaping variable tombstones (as kv-tombstones.ts reaps KV's and
// catalog-tombstones.ts the catalog's). A deleted variable leaves a
// tombstone (domains/variables.ts) so that a blocking read of its path, or a
// list over it, wakes on the delete with an index of readable paths only.
// Paths come and go (a tool's temporary variables, one per job instance),
// and their tombstones were kept for ever.
//
// The leader's collector (core/cluster/gc/loop.ts) proposes a
// ReapVariableTombstones entry naming a log index (the same tombstone_ttl as
// KV's): the tombstones deleted at or before it go, the oldest first and at
// most REAP_BATCH per entry, so every replica removes the same rows
// (tombstone-reap.ts). The highest delete index reaped becomes the floor of
// every index read from tombstones (a deleted or absent path's, a list's),
// so no index goes back: a path whose delete was the newest reaped keeps its
// index, and others below the floor move up to it once (a blocking read of
// them returns once, with the same data). An existing path's index is its
// own ModifyIndex, untouched.
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { reapTombstoneBatch, tombstoneFloor, tombstonesUpTo, type TombstoneTables } from "./tombstone-reap.ts";

const VARIABLES: TombstoneTables = { tombstones: "variable_tombstones", floor: "variable_tombstone_floor" };

export const ReapVariableTombstones = z.object({
  type: z.literal("ReapVariableTombstones"),
  v: z.literal(1),
  at: z.number(),
  /** Tombstones deleted at or before this log index go. */
  before: z.number().int().nonnegative(),
});

export const variableTombstoneCommands = [ReapVariableTombstones] as const;

function applyReapVariableTombstones(db: Db, _index: number, cmd: z.infer<typeof ReapVariableTombstones>): CommandResult {
  return { ok: true, value: { variableTombstones: reapTombstoneBatch(db, VARIABLES, cmd.before) } };
}

// Variables' blocking reads wait on the "variables" table (core/api/variables.ts): a reap
// moves the index of every answer below the floor, so it wakes them all once (each finds
// its index unchanged, or returns once with the same data).
export const variableTombstoneAppliers = {
  ReapVariableTombstones: { tables: ["variables"], namesNoKeys: true, apply: applyReapVariableTombstones },
};

/** The floor of every index read from variable tombstones: the highest delete index reaped (0 before any reap). */
export function variableTombstoneFloor(db: Db): number {
  return tombstoneFloor(db, VARIABLES);
}

/** How many variable tombstones were deleted at or before `index` (the collector proposes a reap only when some are). */
export function variableTombstonesUpTo(db: Db, index: number): number {
  return tombstonesUpTo(db, VARIABLES, index);
}
