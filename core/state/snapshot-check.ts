// Trial restore of a backup before it is proposed (docs/security.md, "Bad
// state"): the dump is restored into a scratch in-memory SQLite database with
// this node's schema, so a row that breaks a constraint or a column type is
// refused with a 4xx naming the table and row, and never reaches the log.
// (The Fsm would refuse it too, deterministically; this answers the operator
// with the reason and keeps the log clean.)
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { openStore } from "../store/db.ts";
import * as schema from "../store/schema.ts";
import type { SqlClient } from "../store/driver.ts";
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
      checkJsonColumns(scratch.client);
      checkJobShapes(scratch.client);
    });
    return { ok: true, tables: Object.keys(dump.tables).length };
  } catch (err) {
    return { ok: false, message: (err as Error).message.slice(0, 400) };
  } finally {
    scratch.close();
  }
}

/**
 * Columns the schema declares as JSON (drizzle `mode: "json"`), by table:
 * every one holds an object or an array. SQLite stores them as TEXT, so a
 * row with `"{not json"` there passed the trial restore, and afterwards
 * every read of it failed: GET /v1/jobs answered 500 and the scheduler's
 * watcher failed every second, while /v1/healthz said ok.
 */
export const JSON_COLUMNS: ReadonlyMap<string, readonly string[]> = new Map(
  (Object.values(schema) as unknown[])
    .filter((t): t is SQLiteTable => t instanceof SQLiteTable)
    .map((t) => getTableConfig(t))
    .map((c) => [c.name, c.columns.filter((col) => (col as { columnType?: string }).columnType === "SQLiteTextJson").map((col) => col.name)] as const)
    .filter(([, cols]) => cols.length > 0),
);

/** Throws naming the first row whose JSON column is not a JSON object or array. */
function checkJsonColumns(client: SqlClient): void {
  for (const [table, cols] of JSON_COLUMNS) {
    for (const col of cols) {
      const bad = client
        .prepare(`SELECT rowid AS rowid FROM "${table}" WHERE NOT json_valid("${col}") OR json_type("${col}") NOT IN ('object', 'array') LIMIT 1`)
        .all() as { rowid: number }[];
      if (bad.length > 0) throw new Error(`table ${table}, rowid ${bad[0]!.rowid}: column ${col} is not a JSON object or array`);
    }
  }
}

/**
 * What the scheduler reads of every job without checking (a job spec's id
 * and groups, each group's name and tasks): a spec of `{}` (valid JSON) made
 * its watcher fail every second ("spec.groups.find" of undefined). A spec
 * must also name the job of its row, or two readers of one job (the ACL by
 * the row's id, a handler by the spec's) would disagree. Checked in SQL over
 * the trial-restored rows.
 */
const JOB_SHAPES: readonly { table: string; spec: string; id?: string; groups: string }[] = [
  { table: "jobs", spec: "spec", id: "id", groups: "$.groups" },
  { table: "job_versions", spec: "spec", id: "job_id", groups: "$.groups" },
];

function checkJobShapes(client: SqlClient): void {
  const groupBad = (json: string) =>
    `json_type(${json}, '$.name') IS NOT 'text' OR json_type(${json}, '$.tasks') IS NOT 'array'`;
  for (const { table, spec, id, groups } of JOB_SHAPES) {
    const bad = client.prepare(
      `SELECT rowid AS rowid FROM "${table}" t WHERE json_type("${spec}", '${groups}') IS NOT 'array'` +
        (id ? ` OR json_type("${spec}", '$.id') IS NOT 'text' OR json_extract("${spec}", '$.id') IS NOT t."${id}"` : "") +
        ` OR EXISTS (SELECT 1 FROM json_each(t."${spec}", '${groups}') g WHERE json_type(g.value) IS NOT 'object' OR ${groupBad("g.value")}) LIMIT 1`,
    ).all() as { rowid: number }[];
    if (bad.length > 0) throw new Error(`table ${table}, rowid ${bad[0]!.rowid}: column ${spec} is not a job of that id with groups of tasks`);
  }
  const alloc = client.prepare(`SELECT rowid AS rowid FROM "allocations" WHERE ${groupBad('"group_spec"')} LIMIT 1`).all() as { rowid: number }[];
  if (alloc.length > 0) throw new Error(`table allocations, rowid ${alloc[0]!.rowid}: column group_spec is not a task group`);
}
