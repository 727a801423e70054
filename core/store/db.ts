// Opens the state database: the runtime's SQLite driver, WAL, migrations,
// and drizzle on top. One Store per data dir; main passes it down.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createTableRelationsHelpers, entityKind, extractTablesRelationalConfig } from "drizzle-orm";
import { BaseSQLiteDatabase, SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { BetterSQLiteSession } from "drizzle-orm/better-sqlite3/session";
import * as schema from "./schema.ts";
import { migrations } from "./migrations.ts";
import { openClient, currentRuntime, type SqlClient, type Runtime } from "./driver.ts";

export type Db = BaseSQLiteDatabase<"sync", unknown, typeof schema>;

export interface Store {
  db: Db;
  client: SqlClient;
  runtime: Runtime;
  path: string;
  /** Runs fn in one SQLite transaction (IMMEDIATE: takes the write lock up front). */
  transaction<T>(fn: () => T): T;
  /**
   * Whether the next commits must be fsynced. With sync "full" the caller
   * may relax it for commits whose loss a restart repairs anyway (applying
   * already-durable log entries); a later fsynced commit also makes the
   * earlier WAL frames durable. With sync "normal" this does nothing.
   */
  fsyncCommits(on: boolean): void;
  /** raft.sync as opened: "full" fsyncs what Raft needs durable, "normal" leaves flushing to checkpoints. */
  readonly sync: "full" | "normal";
  close(): void;
}

export interface OpenOptions {
  /** "full": fsync on every commit (survives power loss). "normal": fsync at WAL checkpoints (survives a process crash, may lose the last commits on power loss). */
  sync?: "full" | "normal";
  runtime?: Runtime;
}

class CorralSQLiteDatabase extends BaseSQLiteDatabase<"sync", unknown, typeof schema> {
  static override readonly [entityKind]: string = "CorralSQLiteDatabase";
}

/** SQLite's page cache per database, KiB (PRAGMA cache_size). */
export const PAGE_CACHE_KIB = 64 * 1024;

export async function openStore(path: string, opts: OpenOptions = {}): Promise<Store> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const runtime = opts.runtime ?? currentRuntime();
  return storeOverClient(await openClient(path, runtime), path, runtime, opts);
}

/** The Store over an open client (sync: the simulator builds in-memory stores mid-run, test/sim/store.ts). */
export function storeOverClient(client: SqlClient, path: string, runtime: Runtime, opts: OpenOptions = {}): Store {
  client.exec("PRAGMA journal_mode = WAL");
  client.exec(`PRAGMA synchronous = ${opts.sync === "full" ? "FULL" : "NORMAL"}`);
  let fsyncing = opts.sync === "full";
  client.exec("PRAGMA busy_timeout = 5000");
  client.exec("PRAGMA foreign_keys = ON");
  // SQLite's default page cache is 2 MiB. A leader's working set is larger: the
  // allocations that agents' answers, plan verification and status reports read
  // (a node's allocations lie on as many pages, written as plans placed them,
  // among other nodes') and the log's tail. Past 2 MiB such reads went back to
  // the OS for their pages: a node's 20 allocations read in ~100 µs, ~45 µs from
  // this cache (docs/scale.md, "Fourth round"). An upper bound: it grows only as
  // pages are read.
  client.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
  migrate(client);

  // Built like drizzle's own better-sqlite3 driver, but over our SqlClient, so
  // the same query code runs on bun:sqlite, better-sqlite3 and node:sqlite.
  const dialect = new SQLiteSyncDialect();
  const tables = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
  const relational = { fullSchema: schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };
  const session = new BetterSQLiteSession(client as never, dialect, relational as never, {});
  const db = new CorralSQLiteDatabase("sync", dialect, session as never, relational as never) as Db;
  // Appliers that work on whole tables (snapshot restore) reach the client through the db.
  (db as unknown as { $client: SqlClient }).$client = client;

  return {
    db,
    client,
    runtime,
    path,
    sync: opts.sync === "full" ? "full" : "normal",
    transaction: <T>(fn: () => T) => client.transaction(fn).immediate(),
    fsyncCommits: (on: boolean) => {
      if (opts.sync !== "full" || on === fsyncing) return;
      // Not a cached prepared statement: SQLite applies `PRAGMA synchronous = x` when it compiles it, so a
      // statement compiled once and run again may leave the level as it was (a write acked unsynced).
      client.exec(`PRAGMA synchronous = ${on ? "FULL" : "NORMAL"}`);
      fsyncing = on;
    },
    close: () => client.close(),
  };
}

/**
 * The SQL client under a drizzle db: for the few statements on the hot write
 * path (applying a KV write, recording the applied index, appending to the
 * log), where building the query through drizzle cost more than running it.
 * The client compiles each SQL text once (driver.ts).
 */
export function clientOf(db: Db): SqlClient {
  return (db as unknown as { $client: SqlClient }).$client;
}

const SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/**
 * Sets one row of the `meta` table (the applied index, Raft's hard state).
 * Plain SQL through the client, like clientOf's statements: the client
 * compiles the text once, so this costs what the prepared statement does.
 */
export function setMeta(client: SqlClient, key: string, value: string): void {
  client.prepare(SET_META).run(key, value);
}

function migrate(client: SqlClient): void {
  const row = client.prepare("PRAGMA user_version").get() as { user_version: number };
  const current = row.user_version;
  if (current > migrations.length) {
    throw new Error(
      `state database schema version ${current} is newer than this corral (${migrations.length}); upgrade corral`,
    );
  }
  for (let v = current; v < migrations.length; v++) {
    client.transaction(() => {
      client.exec(migrations[v]!);
      client.exec(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
}
