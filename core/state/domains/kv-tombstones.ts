// Reaping KV tombstones (Consul's tombstone GC). A deleted key leaves a
// tombstone with the delete's index so that the index of a prefix above it
// still moves (domains/kv.ts). Keys come and go (semaphore contender keys,
// session-bound keys with Behavior "delete", a tool's temporary keys), and
// without reaping their tombstones were kept for ever.
//
// The leader's collector (core/cluster/gc/loop.ts) proposes a ReapTombstones
// entry naming a log index: the tombstones deleted at or before it go, the
// oldest first and at most REAP_BATCH per entry, so every replica removes
// the same rows. The highest delete index reaped becomes the floor of every
// prefix index (kv_tombstone_floor), so an index never goes back: a prefix
// whose newest change was a reaped delete keeps that index, and others move
// up to it once (a blocking read of them returns once, with the same data,
// as Consul's may after its tombstone GC). A single existing key's index is
// its own ModifyIndex, untouched.
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { reapTombstoneBatch, tombstoneFloor, tombstonesUpTo, type TombstoneTables } from "./tombstone-reap.ts";

export { REAP_BATCH } from "./tombstone-reap.ts";

const KV: TombstoneTables = { tombstones: "kv_tombstones", floor: "kv_tombstone_floor" };

export const ReapTombstones = z.object({
  type: z.literal("ReapTombstones"),
  v: z.literal(1),
  at: z.number(),
  /** Tombstones deleted at or before this log index go. */
  before: z.number().int().nonnegative(),
});

export const kvTombstoneCommands = [ReapTombstones] as const;

function applyReapTombstones(db: Db, _index: number, cmd: z.infer<typeof ReapTombstones>): CommandResult {
  return { ok: true, value: { tombstones: reapTombstoneBatch(db, KV, cmd.before) } };
}

// Names no keys (fsm.ts): a reap moves the index of every prefix below the floor, so it wakes every KV waiter once.
export const kvTombstoneAppliers = {
  ReapTombstones: { tables: ["kv"], namesNoKeys: true, apply: applyReapTombstones },
};

/** The floor of every prefix index: the highest delete index reaped (0 before any reap). */
export function kvTombstoneFloor(db: Db): number {
  return tombstoneFloor(db, KV);
}

/** How many tombstones were deleted at or before `index` (the collector proposes a reap only when some are). */
export function kvTombstonesUpTo(db: Db, index: number): number {
  return tombstonesUpTo(db, KV, index);
}
