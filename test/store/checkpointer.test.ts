// WAL checkpoints on a worker thread (core/store/checkpointer.ts): the
// node's own commits no longer copy the WAL into the database; a worker
// does, beside them. Seen from outside: rows committed far below the main
// connection's backstop reach state.db itself (not only its WAL) without a
// checkpoint by the main connection.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../core/store/db.ts";
import { BACKSTOP_PAGES } from "../../core/store/checkpointer.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-checkpointer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The rows of table t in the database file alone, as if its WAL were gone. */
function rowsInDatabaseFile(path: string, copy: string): number {
  copyFileSync(path, copy);
  const db = new Database(copy);
  try {
    return (db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  } catch {
    return 0; // the table itself is still only in the WAL
  } finally {
    db.close();
  }
}

async function writeAndLook(name: string, checkpointInWorker: boolean): Promise<{ rows: number; autocheckpoint: number }> {
  const path = join(dir, `${name}.db`);
  const store = await openStore(path, { sync: "normal", checkpointInWorker });
  store.client.exec("CREATE TABLE t (x TEXT)");
  for (let i = 0; i < 100; i++) store.transaction(() => store.client.prepare("INSERT INTO t VALUES (?)").run("v".repeat(100)));
  const autocheckpoint = (store.client.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;
  await Bun.sleep(1_000); // a few of the worker's rounds
  const rows = rowsInDatabaseFile(path, join(dir, `${name}-copy.db`));
  store.close();
  return { rows, autocheckpoint };
}

test("a worker copies committed pages into the database file; the main connection keeps only a backstop", async () => {
  const worker = await writeAndLook("worker", true);
  expect(worker.autocheckpoint).toBe(BACKSTOP_PAGES);
  expect(worker.rows).toBe(100);
  // Without it, 100 small commits (~200 WAL pages) stay in the WAL: SQLite's own checkpoint waits for 1,000.
  const plain = await writeAndLook("plain", false);
  expect(plain.autocheckpoint).toBe(1000);
  expect(plain.rows).toBe(0);
});

test("closing the store ends the worker: the database can be removed and opened again at once", async () => {
  const path = join(dir, "close.db");
  const store = await openStore(path, { sync: "normal", checkpointInWorker: true });
  store.client.exec("CREATE TABLE t (x TEXT)");
  store.transaction(() => store.client.prepare("INSERT INTO t VALUES ('a')").run());
  await Bun.sleep(300);
  store.close();
  await Bun.sleep(200);
  const again = await openStore(path, { sync: "normal", checkpointInWorker: true });
  expect((again.client.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(1);
  again.transaction(() => again.client.prepare("INSERT INTO t VALUES ('b')").run());
  again.close();
});
