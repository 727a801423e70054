// One SQLite adapter for three runtimes: bun:sqlite under Bun, better-sqlite3
// (v12) under Node, node:sqlite under Deno. Each is wrapped into the small
// synchronous surface below, and drizzle-orm sits on top (core/store/db.ts).
//
// The driver modules are loaded with dynamic imports whose specifiers the
// bundlers leave alone, so one bundle runs on every runtime.
import { createRequire } from "node:module";
import { probeSize } from "../debug-heap.ts";

export interface SqlStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  /** Rows as arrays instead of objects (drizzle's "values" mode). */
  raw(): { all(...params: unknown[]): unknown[][]; get(...params: unknown[]): unknown[] | undefined };
}

/** The better-sqlite3-shaped surface drizzle's better-sqlite3 session needs. */
export interface SqlClient {
  prepare(sql: string): SqlStatement;
  exec(sql: string): void;
  close(): void;
  /** better-sqlite3's transaction(): wraps fn; call .deferred/.immediate/.exclusive or the function itself. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R): TransactionFn<A, R>;
}

export type TransactionFn<A extends unknown[], R> = ((...args: A) => R) & {
  deferred: (...args: A) => R;
  immediate: (...args: A) => R;
  exclusive: (...args: A) => R;
};

/**
 * BEGIN/COMMIT around fn, ROLLBACK on throw; nested calls become savepoints.
 * `exec` runs one statement: bun:sqlite's runs it prepared (compiled once, by
 * the statement cache), where db.exec compiled each BEGIN, SAVEPOINT, RELEASE
 * and COMMIT anew: ~10 µs per pair, and every replicated write runs two
 * transactions and a savepoint on each node (docs/raft.md, "Where one
 * commit's time goes").
 */
function makeTransaction(exec: (sql: string) => void): SqlClient["transaction"] {
  let depth = 0;
  return <A extends unknown[], R>(fn: (...args: A) => R) => {
    const run = (mode: string) => (...args: A): R => {
      const sp = `corral_sp${depth}`;
      exec(depth === 0 ? `BEGIN ${mode}` : `SAVEPOINT ${sp}`);
      depth++;
      try {
        const result = fn(...args);
        depth--;
        exec(depth === 0 ? "COMMIT" : `RELEASE ${sp}`);
        return result;
      } catch (err) {
        depth--;
        if (depth === 0) exec("ROLLBACK");
        else {
          exec(`ROLLBACK TO ${sp}`);
          exec(`RELEASE ${sp}`);
        }
        throw err;
      }
    };
    const f = run("DEFERRED") as TransactionFn<A, R>;
    f.deferred = run("DEFERRED");
    f.immediate = run("IMMEDIATE");
    f.exclusive = run("EXCLUSIVE");
    return f;
  };
}

export type Runtime = "bun" | "node" | "deno";

export function currentRuntime(): Runtime {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Bun !== "undefined") return "bun";
  if (typeof g.Deno !== "undefined") return "deno";
  return "node";
}

// Hidden from bundlers: a literal import("bun:sqlite") would make esbuild
// try to resolve it for the Node bundle.
const dynamicImport = new Function("s", "return import(s)") as (s: string) => Promise<any>;

export async function openClient(path: string, runtime = currentRuntime()): Promise<SqlClient> {
  if (runtime === "bun") return openBun(path);
  if (runtime === "deno") return openNodeSqlite(path);
  return openBetterSqlite(path);
}

/** Compiled statements kept per database (by SQL text); beyond it the oldest is dropped. */
const STATEMENT_CACHE_SIZE = 512;

/**
 * Compiles each SQL text once. drizzle builds the same text for the same
 * query shape and prepares it on every call: under a write load compiling
 * was an eighth of a follower's CPU profile. Only for drivers whose
 * statements carry no per-call mode (better-sqlite3's raw() flips the
 * statement itself).
 */
class StatementCache {
  private cache = new Map<string, { stmt: SqlStatement; finalize(): void }>();

  constructor(private compile: (sql: string) => { stmt: SqlStatement; finalize(): void }) {}

  prepare(sql: string): SqlStatement {
    let entry = this.cache.get(sql);
    if (!entry) {
      entry = this.compile(sql);
      // An evicted statement is left to the garbage collector: a caller may still hold it.
      if (this.cache.size >= STATEMENT_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(sql, entry);
    }
    return entry.stmt;
  }

  size(): number {
    return this.cache.size;
  }

  /** Before closing: SQLite keeps the files open while a statement lives. */
  finalizeAll(): void {
    for (const e of this.cache.values()) e.finalize();
    this.cache.clear();
  }
}

async function openBun(path: string): Promise<SqlClient> {
  const { Database } = await dynamicImport("bun:sqlite");
  return bunClient(new Database(path, { create: true, strict: false }));
}

/** A SqlClient over an open bun:sqlite Database (sync: the simulator opens in-memory ones mid-run). */
export function bunClient(db: any): SqlClient {
  const statements = new StatementCache((sql) => {
    const stmt = db.prepare(sql);
    return {
      stmt: {
        run: (...p) => {
          const r = stmt.run(...(p as any[]));
          return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
        },
        all: (...p) => stmt.all(...(p as any[])),
        get: (...p) => stmt.get(...(p as any[])) ?? undefined,
        raw: () => ({
          all: (...p) => stmt.values(...(p as any[])),
          get: (...p) => stmt.values(...(p as any[]))[0],
        }),
      },
      finalize: () => stmt.finalize(),
    };
  });
  probeSize("sqlite.statements", () => statements.size());
  return {
    prepare: (sql) => statements.prepare(sql),
    exec: (sql) => db.exec(sql),
    close: () => {
      statements.finalizeAll();
      db.close();
    },
    transaction: makeTransaction((sql) => statements.prepare(sql).run()),
  };
}

async function openBetterSqlite(path: string): Promise<SqlClient> {
  // createRequire keeps better-sqlite3 a plain runtime require in the bundle:
  // it is a native addon and must sit beside dist/corral.mjs in node_modules.
  const require = createRequire(import.meta.url);
  const Database = require("better-sqlite3");
  return new Database(path) as SqlClient;
}

async function openNodeSqlite(path: string): Promise<SqlClient> {
  const { DatabaseSync } = await dynamicImport("node:sqlite");
  const db = new DatabaseSync(path);
  return {
    prepare(sql: string): SqlStatement {
      const stmt = db.prepare(sql);
      const arrays = () => {
        const s2 = db.prepare(sql);
        if (typeof s2.setReturnArrays === "function") {
          s2.setReturnArrays(true);
          return {
            all: (...p: unknown[]) => s2.all(...p) as unknown[][],
            get: (...p: unknown[]) => s2.get(...p) as unknown[] | undefined,
          };
        }
        // Older node:sqlite: object rows keep column order, so values() is the row.
        return {
          all: (...p: unknown[]) => (s2.all(...p) as object[]).map((r) => Object.values(r)),
          get: (...p: unknown[]) => {
            const r = s2.get(...p) as object | undefined;
            return r ? Object.values(r) : undefined;
          },
        };
      };
      return {
        run: (...p) => {
          const r = stmt.run(...p);
          return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
        },
        all: (...p) => stmt.all(...p),
        get: (...p) => stmt.get(...p),
        raw: arrays,
      };
    },
    exec: (sql) => db.exec(sql),
    close: () => db.close(),
    transaction: makeTransaction((sql) => db.exec(sql)),
  };
}
