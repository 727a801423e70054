// Queries built once per database handle and run many times.
//
// drizzle builds a query's SQL text from its builder objects on every call
// (`_prepare`: walking the columns, escaping names, merging chunks). On the
// placement path — plan verification and inserts, status updates, job-status
// refreshes, agents' allocation reads — that construction was about a fifth
// of the leader's CPU, more than SQLite spent running the statements. A
// query declared with `preparedQuery` is built and prepared the first time it
// runs on a database handle and reused after that; its per-call values are
// drizzle placeholders (`sql.placeholder("id")`), filled on each run.
//
// Rows come back exactly as the unprepared query returns them (drizzle still
// maps them: JSON columns parsed, booleans decoded), on bun:sqlite and
// better-sqlite3 alike: drizzle's session prepares the statement through the
// same client (core/store/driver.ts) and keeps it.
//
// Keyed by the drizzle handle (a WeakMap), so a closed and reopened store —
// a test, a snapshot install — gets statements of its own.
import type { Db } from "./db.ts";

/** A query prepared on first use per database handle: `const q = preparedQuery((db) => db.select()....prepare()); q(db).get({ ... })`. */
export function preparedQuery<Q>(build: (db: Db) => Q): (db: Db) => Q {
  const perDb = new WeakMap<Db, Q>();
  return (db) => {
    let q = perDb.get(db);
    if (q === undefined) {
      q = build(db);
      perDb.set(db, q);
    }
    return q;
  };
}
