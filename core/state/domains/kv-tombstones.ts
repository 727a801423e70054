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
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";

/** Tombstones removed by one entry at most (the next entry of the collector's round continues). */
export const REAP_BATCH = 10_000;

export const ReapTombstones = z.object({
  type: z.literal("ReapTombstones"),
  v: z.literal(1),
  at: z.number(),
  /** Tombstones deleted at or before this log index go. */
  before: z.number().int().nonnegative(),
});

export const kvTombstoneCommands = [ReapTombstones] as const;

function applyReapTombstones(db: Db, _index: number, cmd: z.infer<typeof ReapTombstones>): CommandResult {
  const client = clientOf(db);
  const last = client.prepare(
    "SELECT delete_index AS d FROM kv_tombstones WHERE delete_index <= ? ORDER BY delete_index, key LIMIT 1 OFFSET ?",
  ).get(cmd.before, REAP_BATCH - 1) as { d: number } | undefined;
  // A full batch ends at `last` (all its index's tombstones go with it, so the floor is exact); a smaller one takes everything up to `before`.
  const upTo = last ? last.d : cmd.before;
  const top = client.prepare("SELECT max(delete_index) AS m FROM kv_tombstones WHERE delete_index <= ?").get(upTo) as { m: number | null };
  if (top.m === null) return { ok: true, value: { tombstones: 0 } };
  const gone = client.prepare("DELETE FROM kv_tombstones WHERE delete_index <= ?").run(upTo);
  client.prepare(
    "INSERT INTO kv_tombstone_floor (id, floor) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET floor = max(floor, excluded.floor)",
  ).run(top.m);
  return { ok: true, value: { tombstones: Number(gone.changes) } };
}

// Names no keys (fsm.ts): a reap moves the index of every prefix below the floor, so it wakes every KV waiter once.
export const kvTombstoneAppliers = {
  ReapTombstones: { tables: ["kv"], namesNoKeys: true, apply: applyReapTombstones },
};

/** The floor of every prefix index: the highest delete index reaped (0 before any reap). */
export function kvTombstoneFloor(db: Db): number {
  const r = clientOf(db).prepare("SELECT floor FROM kv_tombstone_floor WHERE id = 1").get() as { floor: number } | undefined;
  return r?.floor ?? 0;
}

/** How many tombstones were deleted at or before `index` (the collector proposes a reap only when some are). */
export function kvTombstonesUpTo(db: Db, index: number): number {
  const r = clientOf(db).prepare("SELECT count(*) AS n FROM kv_tombstones WHERE delete_index <= ?").get(index) as { n: number };
  return r.n;
}
