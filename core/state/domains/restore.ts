// Backup restore as a replicated command: the dump travels through the log,
// so every leader-role node replaces its state with it at the same index
// (`corral operator snapshot restore`, like `consul snapshot restore`).
import { z } from "zod";
import { clientOf, type Db } from "../../store/db.ts";
import type { CommandResult } from "../result.ts";
import { decodeDump, restoreState } from "../snapshot.ts";

export const RestoreState = z.object({
  type: z.literal("RestoreState"),
  v: z.literal(1),
  at: z.number(),
  /** A dump written by `corral operator snapshot save` (core/state/snapshot.ts). */
  data: z.string(),
});

export const restoreCommands = [RestoreState] as const;

function applyRestoreState(db: Db, _index: number, cmd: z.infer<typeof RestoreState>): CommandResult {
  const store = { client: clientOf(db) };
  let dump;
  try {
    dump = decodeDump(cmd.data, store);
  } catch (err) {
    return { ok: false, code: "INVALID_SNAPSHOT", message: (err as Error).message };
  }
  restoreState(store, dump);
  return { ok: true, value: { tables: Object.keys(dump.tables).length } };
}

/** "*": a restore changes every table (see appliers.ts). */
export const restoreAppliers = {
  RestoreState: { tables: ["*"], apply: applyRestoreState },
};
