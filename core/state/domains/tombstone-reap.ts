// Reaping a tombstone table with a floor: what KV's, the catalog's and variables'
// tombstone GC share (kv-tombstones.ts, catalog-tombstones.ts, variable-tombstones.ts). The
// tombstones deleted at or before a log index go, the oldest first and at most
// REAP_BATCH per entry, so every replica removes the same rows; the highest
// delete index reaped is kept as the floor (a one-row table, so snapshots
// carry it) below which no index read from that table may go.
import { clientOf, type Db } from "../../store/db.ts";

/** Tombstones removed by one entry at most (the next entry of the collector's round continues). */
export const REAP_BATCH = 10_000;

/** A tombstone table (a `delete_index` column) and its floor table (one row: id 1, floor). Names are constants of this code, never input. */
export interface TombstoneTables {
  tombstones: string;
  floor: string;
}

/** Reaps the tombstones deleted at or before `before` (one batch); raises the floor; returns how many went. */
export function reapTombstoneBatch(db: Db, t: TombstoneTables, before: number): number {
  const client = clientOf(db);
  const last = client.prepare(
    `SELECT delete_index AS d FROM ${t.tombstones} WHERE delete_index <= ? ORDER BY delete_index LIMIT 1 OFFSET ?`,
  ).get(before, REAP_BATCH - 1) as { d: number } | undefined;
  // A full batch ends at `last` (all its index's tombstones go with it, so the floor is exact); a smaller one takes everything up to `before`.
  const upTo = last ? last.d : before;
  const top = client.prepare(`SELECT max(delete_index) AS m FROM ${t.tombstones} WHERE delete_index <= ?`).get(upTo) as { m: number | null };
  if (top.m === null) return 0;
  const gone = client.prepare(`DELETE FROM ${t.tombstones} WHERE delete_index <= ?`).run(upTo);
  client.prepare(
    `INSERT INTO ${t.floor} (id, floor) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET floor = max(floor, excluded.floor)`,
  ).run(top.m);
  return Number(gone.changes);
}

/** The floor: the highest delete index reaped (0 before any reap). */
export function tombstoneFloor(db: Db, t: TombstoneTables): number {
  const r = clientOf(db).prepare(`SELECT floor FROM ${t.floor} WHERE id = 1`).get() as { floor: number } | undefined;
  return r?.floor ?? 0;
}

/** How many tombstones were deleted at or before `index` (the collector proposes a reap only when some are). */
export function tombstonesUpTo(db: Db, t: TombstoneTables, index: number): number {
  const r = clientOf(db).prepare(`SELECT count(*) AS n FROM ${t.tombstones} WHERE delete_index <= ?`).get(index) as { n: number };
  return r.n;
}
