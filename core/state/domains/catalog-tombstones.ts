// Reaping catalog tombstones (as kv-tombstones.ts reaps KV's). A deleted
// node, service or node check leaves a tombstone (domains/catalog.ts) so that
// a query whose answer lost the row still sees its index move. They are keyed
// by node id and by service name, and nodes and names come and go: under
// churn (agents replaced, nodes collected by the node GC, jobs with their own
// service names) they were kept for ever, one row per node or name ever
// deleted.
//
// The leader's collector (core/cluster/gc/loop.ts) proposes a
// ReapCatalogTombstones entry naming a log index (the same tombstone_ttl as
// KV's): the tombstones deleted at or before it go, the oldest first and at
// most REAP_BATCH per entry, so every replica removes the same rows
// (tombstone-reap.ts, shared with KV's). The highest delete index reaped
// becomes the floor of every index read from tombstones (catalog-read.ts),
// so no index goes back: an answer whose newest change was a reaped deletion
// keeps that index, and others move up to it once (a blocking read of them
// returns once, with the same data, as Consul's may after its tombstone GC).
import { z } from "zod";
import type { Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { reapTombstoneBatch, tombstoneFloor, tombstonesUpTo, type TombstoneTables } from "./tombstone-reap.ts";

const CATALOG: TombstoneTables = { tombstones: "catalog_tombstones", floor: "catalog_tombstone_floor" };

export const ReapCatalogTombstones = z.object({
  type: z.literal("ReapCatalogTombstones"),
  v: z.literal(1),
  at: z.number(),
  /** Tombstones deleted at or before this log index go. */
  before: z.number().int().nonnegative(),
});

export const catalogTombstoneCommands = [ReapCatalogTombstones] as const;

function applyReapCatalogTombstones(db: Db, _index: number, cmd: z.infer<typeof ReapCatalogTombstones>): CommandResult {
  return { ok: true, value: { catalogTombstones: reapTombstoneBatch(db, CATALOG, cmd.before) } };
}

// Names no keys (fsm.ts): a reap moves the index of every answer below the
// floor, so it wakes every catalog and health waiter once (each finds its
// index unchanged, or returns once with the same data).
export const catalogTombstoneAppliers = {
  ReapCatalogTombstones: { tables: ["catalog_tombstones"], namesNoKeys: true, apply: applyReapCatalogTombstones },
};

/** The floor of every index read from catalog tombstones: the highest delete index reaped (0 before any reap). */
export function catalogTombstoneFloor(db: Db): number {
  return tombstoneFloor(db, CATALOG);
}

/** How many catalog tombstones were deleted at or before `index` (the collector proposes a reap only when some are). */
export function catalogTombstonesUpTo(db: Db, index: number): number {
  return tombstonesUpTo(db, CATALOG, index);
}
