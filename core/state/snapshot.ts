// A snapshot of the replicated state: every state table's rows, as JSON.
// Used by Raft (InstallSnapshot, log compaction) and by operator backups
// (`corral operator snapshot save|restore`). The log and node-local facts
// (`meta`: applied index, raft hard state) are not part of it.
import type { SqlClient } from "../store/driver.ts";

/** The one thing these functions need from a Store. */
type Store = { client: SqlClient };

const NOT_STATE = new Set(["log", "meta", "raft_snapshot"]);

/** The dump layout this release writes and reads (StateDump.format). */
export const SNAPSHOT_FORMAT_VERSION = 1;

export interface StateDump {
  format: "corral-state-v1";
  /** PRAGMA user_version of the schema the rows belong to. */
  schema: number;
  tables: Record<string, { columns: string[]; rows: unknown[][] }>;
}

export function stateTables(store: Store): string[] {
  const rows = store.client
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { name: string }[];
  return rows.map((r) => r.name).filter((n) => !NOT_STATE.has(n));
}

function schemaVersion(store: Store): number {
  return (store.client.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Reads every state table. Call inside a transaction for a consistent view. */
export function dumpState(store: Store): StateDump {
  const tables: StateDump["tables"] = {};
  for (const name of stateTables(store)) {
    const columns = (store.client.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name);
    const rows = store.client.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(", ")} FROM "${name}" ORDER BY rowid`).raw().all();
    tables[name] = { columns, rows };
  }
  return { format: "corral-state-v1", schema: schemaVersion(store), tables };
}

export function encodeDump(d: StateDump): string {
  return JSON.stringify(d);
}

/** Parses and checks a dump; throws with a plain sentence when it is not one of ours. */
export function decodeDump(data: string, store: Store): StateDump {
  let d: StateDump;
  try {
    d = JSON.parse(data) as StateDump;
  } catch {
    throw new Error("not a corral snapshot (not JSON)");
  }
  // The format is versioned ("corral-state-vN"): a later release that
  // changes the layout raises N, and this one says so instead of "not ours".
  const fmt = typeof d?.format === "string" ? /^corral-state-v(\d+)$/.exec(d.format) : null;
  if (fmt && Number(fmt[1]) > SNAPSHOT_FORMAT_VERSION) {
    throw new Error(`snapshot format ${d.format} is newer than this corral reads (corral-state-v${SNAPSHOT_FORMAT_VERSION}); upgrade corral first`);
  }
  if (d?.format !== "corral-state-v1" || typeof d.tables !== "object" || d.tables === null) throw new Error("not a corral snapshot");
  if (typeof d.schema !== "number") throw new Error("not a corral snapshot (no schema version)");
  for (const [name, t] of Object.entries(d.tables)) {
    if (!t || !Array.isArray(t.columns) || !Array.isArray(t.rows) || !t.columns.every((c) => typeof c === "string")) {
      throw new Error(`table ${name}: expected { columns: string[], rows: unknown[][] }`);
    }
  }
  if (d.schema > schemaVersion(store)) {
    throw new Error(`snapshot schema ${d.schema} is newer than this corral's (${schemaVersion(store)}); upgrade corral first`);
  }
  return d;
}

/**
 * Replaces every state table with the dump's rows. Call inside a
 * transaction. Tables the dump lacks (added by a later migration) end up
 * empty; columns the dump lacks take their defaults.
 */
export function restoreState(store: Store, d: StateDump): void {
  for (const name of stateTables(store)) {
    store.client.exec(`DELETE FROM "${name}"`);
    const t = d.tables[name];
    if (!t || t.rows.length === 0) continue;
    const live = new Set((store.client.prepare(`PRAGMA table_info("${name}")`).all() as { name: string }[]).map((c) => c.name));
    const cols = t.columns.filter((c) => live.has(c));
    const pick = t.columns.map((c, i) => (live.has(c) ? i : -1)).filter((i) => i >= 0);
    const stmt = store.client.prepare(
      `INSERT INTO "${name}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`,
    );
    for (let r = 0; r < t.rows.length; r++) {
      const row = t.rows[r];
      try {
        if (!Array.isArray(row)) throw new Error("a row must be an array of column values");
        stmt.run(...pick.map((i) => row[i]));
      } catch (err) {
        // Name the row: an operator fixes a backup by table and row, not by SQLite's message alone.
        throw Object.assign(new Error(`table ${name}, row ${r + 1}: ${(err as Error).message}`), { code: (err as { code?: unknown }).code });
      }
    }
  }
}
