// Keyset scans behind the paged lists (core/http/paging.ts): each reads at
// most `limit` rows in the list's key order, starting at a key (inclusive)
// or just past it. A page is then a few indexed range reads, never the whole
// table sorted and sliced, and rows inserted meanwhile never shift it.
//   jobs         (namespace, id)       ascending
//   allocations  (create_index, id)    ascending
//   evaluations  (create_index, id)    descending (newest first)
//   deployments  (create_index, id)    descending (newest first)
//   nodes        (name, id)            ascending
//   variables    (namespace, path)     ascending
import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { clientOf, type Db } from "../../store/db.ts";
import { nodes, type NodeRow } from "../../store/schema.ts";
import {
  allocations, deployments, evaluations, jobs, type AllocRow, type DeploymentRow, type EvalRow, type EvalStatus, type JobRow,
} from "../../store/schema-jobs.ts";
import type { ScanFrom } from "../../http/paging.ts";
import type { AllocFilter } from "./jobs-read.ts";
import { VARIABLE_META_COLUMNS, type VariableMeta } from "./variables.ts";

export interface ListScans {
  /** `prefix`: only jobs whose ID starts with it (Nomad's ?prefix), matched in SQL so a page never scans the table. */
  jobs(f: { namespace?: string; prefix?: string }, from: ScanFrom, limit: number): JobRow[];
  allocs(f: AllocFilter, from: ScanFrom, limit: number): AllocRow[];
  /**
   * The allocations of a batch of jobs (one page scan's), in one query: the
   * jobs list counts each job's allocations, and one query per job made a
   * ?filter over 100,000 jobs take minutes.
   */
  allocsOfJobs(jobs: readonly { namespace: string; id: string }[]): AllocRow[];
  evals(f: { namespace?: string; jobId?: string; status?: EvalStatus[] }, from: ScanFrom, limit: number): EvalRow[];
  deployments(f: { namespace?: string; jobId?: string }, from: ScanFrom, limit: number): DeploymentRow[];
  /** `prefix`: only nodes whose name starts with it: a range of the (name, id) key, read from where it starts. */
  nodes(f: { status?: string; prefix?: string }, from: ScanFrom, limit: number): NodeRow[];
  variables(f: { namespace?: string; prefix: string }, from: ScanFrom, limit: number): VariableMeta[];
}

/** `(a, b) >= (x, y)` (or >, <=, <): SQLite compares row values in order, which is what a two-column key needs. */
function after(cols: [SQLiteColumn, SQLiteColumn], from: ScanFrom, descending: boolean): SQL | undefined {
  if (!from) return undefined;
  const op = sql.raw(descending ? (from.inclusive ? "<=" : "<") : from.inclusive ? ">=" : ">");
  return sql`(${cols[0]}, ${cols[1]}) ${op} (${from.key[0]}, ${from.key[1]})`;
}

/**
 * `col` starts with `prefix`: substr() rather than LIKE, which would need its
 * wildcards escaped and is case-insensitive for ASCII.
 */
function startsWith(col: SQLiteColumn, prefix: string | undefined): SQL | undefined {
  if (!prefix) return undefined;
  return sql`substr(${col}, 1, ${prefix.length}) = ${prefix}`;
}

/** `col >= prefix`: where the names starting with `prefix` begin in the key's order, so the scan seeks there. */
function atLeast(col: SQLiteColumn, prefix: string | undefined): SQL | undefined {
  return prefix ? sql`${col} >= ${prefix}` : undefined;
}

export function createListScans(db: Db): ListScans {
  return {
    jobs: (f, from, limit) =>
      db.select().from(jobs)
        .where(and(
          f.namespace !== undefined ? eq(jobs.namespace, f.namespace) : undefined,
          // With one namespace the prefix is a range of the key; across namespaces each row is checked.
          f.namespace !== undefined ? atLeast(jobs.id, f.prefix) : undefined,
          startsWith(jobs.id, f.prefix),
          after([jobs.namespace, jobs.id], from, false),
        ))
        .orderBy(asc(jobs.namespace), asc(jobs.id)).limit(limit).all(),
    allocs: (f, from, limit) =>
      db.select().from(allocations).where(and(
        f.namespace !== undefined ? eq(allocations.namespace, f.namespace) : undefined,
        f.jobId !== undefined ? eq(allocations.jobId, f.jobId) : undefined,
        f.nodeId !== undefined ? eq(allocations.nodeId, f.nodeId) : undefined,
        after([allocations.createIndex, allocations.id], from, false),
      )).orderBy(asc(allocations.createIndex), asc(allocations.id)).limit(limit).all(),
    allocsOfJobs: (list) => {
      if (list.length === 0) return [];
      const ids = [...new Set(list.map((j) => j.id))];
      const namespaces = new Set(list.map((j) => j.namespace));
      // By job id (indexed with the namespace); a job of the same id in another namespace is dropped here.
      const wanted = new Set(list.map((j) => `${j.namespace}\0${j.id}`));
      const rows: AllocRow[] = [];
      for (let i = 0; i < ids.length; i += 500) {
        const part = db.select().from(allocations)
          .where(and(namespaces.size === 1 ? eq(allocations.namespace, [...namespaces][0]!) : undefined, inArray(allocations.jobId, ids.slice(i, i + 500))))
          .orderBy(asc(allocations.createIndex), asc(allocations.id)).all();
        for (const a of part) if (wanted.has(`${a.namespace}\0${a.jobId}`)) rows.push(a);
      }
      return rows;
    },
    evals: (f, from, limit) =>
      db.select().from(evaluations).where(and(
        f.namespace !== undefined ? eq(evaluations.namespace, f.namespace) : undefined,
        f.jobId !== undefined ? eq(evaluations.jobId, f.jobId) : undefined,
        f.status ? inArray(evaluations.status, f.status) : undefined,
        after([evaluations.createIndex, evaluations.id], from, true),
      )).orderBy(desc(evaluations.createIndex), desc(evaluations.id)).limit(limit).all(),
    deployments: (f, from, limit) =>
      db.select().from(deployments).where(and(
        f.namespace !== undefined ? eq(deployments.namespace, f.namespace) : undefined,
        f.jobId !== undefined ? eq(deployments.jobId, f.jobId) : undefined,
        after([deployments.createIndex, deployments.id], from, true),
      )).orderBy(desc(deployments.createIndex), desc(deployments.id)).limit(limit).all(),
    nodes: (f, from, limit) =>
      db.select().from(nodes)
        .where(and(
          f.status !== undefined ? eq(nodes.status, f.status) : undefined,
          atLeast(nodes.name, f.prefix), startsWith(nodes.name, f.prefix),
          after([nodes.name, nodes.id], from, false),
        ))
        .orderBy(asc(nodes.name), asc(nodes.id)).limit(limit).all(),
    variables: (f, from, limit) => {
      // The prefix as a range (path >= prefix) plus a check: LIKE would need escaping and could not use the key.
      const args: (string | number)[] = [];
      const where: string[] = ["substr(path, 1, ?) = ?"];
      args.push(f.prefix.length, f.prefix);
      if (f.namespace !== undefined) { where.push("namespace = ?"); args.push(f.namespace); }
      if (from) { where.push(`(namespace, path) ${from.inclusive ? ">=" : ">"} (?, ?)`); args.push(from.key[0]!, from.key[1]!); }
      args.push(limit);
      return clientOf(db).prepare(`SELECT ${VARIABLE_META_COLUMNS} FROM variables WHERE ${where.join(" AND ")} ORDER BY namespace, path LIMIT ?`)
        .all(...args) as VariableMeta[];
    },
  };
}

export const emptyListScans: ListScans = {
  jobs: () => [], allocs: () => [], allocsOfJobs: () => [], evals: () => [], deployments: () => [], nodes: () => [], variables: () => [],
};
