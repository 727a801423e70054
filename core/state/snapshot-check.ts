// Trial restore of a backup before it is proposed (docs/security.md, "Bad
// state"): the dump is restored into a scratch in-memory SQLite database with
// this node's schema, so a row that breaks a constraint or a column type is
// refused with a 4xx naming the table and row, and never reaches the log.
// (The Fsm would refuse it too, deterministically; this answers the operator
// with the reason and keeps the log clean.)
import { openStore } from "../store/db.ts";
import { decodeDump, restoreState } from "./snapshot.ts";

export type SnapshotCheck = { ok: true; tables: number } | { ok: false; message: string };

export async function checkSnapshot(data: string): Promise<SnapshotCheck> {
  const scratch = await openStore(":memory:");
  try {
    const dump = decodeDump(data, scratch);
    scratch.transaction(() => {
      restoreState(scratch, dump);
      // Foreign keys are checked per statement; this catches any left dangling by row order.
      const bad = scratch.client.prepare("PRAGMA foreign_key_check").all() as { table: string; rowid: number; parent: string }[];
      if (bad.length > 0) throw new Error(`table ${bad[0]!.table}, rowid ${bad[0]!.rowid}: references a missing row of ${bad[0]!.parent}`);
    });
    return { ok: true, tables: Object.keys(dump.tables).length };
  } catch (err) {
    return { ok: false, message: (err as Error).message.slice(0, 400) };
  } finally {
    scratch.close();
  }
}
