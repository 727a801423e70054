// One process per data dir. Two nodes on one data dir would both write the
// Raft log and the state database, and each would report the other's address
// as its own; the second must refuse to start.
//
// The lock is an OS-level one, so that it dies with its holder (kill -9, a
// crash, a power cut) and needs no stale-lock guessing:
//   - a pid file alone is racy: two starts both see "no live pid" and both
//     write theirs; and a recycled pid looks alive;
//   - fs.openSync(..., "wx") is atomic but survives its holder, so recovery
//     goes back to guessing from a pid;
//   - Bun and Node have no flock() in their standard library.
// SQLite has one: a database in EXCLUSIVE locking mode takes a POSIX (fcntl)
// write lock on its first write and keeps it until the connection closes; the
// kernel drops it when the process dies. `DATA_DIR/LOCK` is such a database,
// used only for this. A second process (or a second node in the same process:
// SQLite tracks its own connections per file too) gets SQLITE_BUSY at once.
//
// The holder's pid goes to `LOCK.pid` for the message only; correctness never
// depends on it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openClient, type SqlClient } from "../store/driver.ts";

export const LOCK_FILE = "LOCK";
export const PID_FILE = "LOCK.pid";

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(`data dir ${dataDir} is in use by pid ${pid ?? "unknown"}`);
  }
}

export interface DataDirLock {
  /** Lets the next process in. Idempotent. */
  release(): void;
}

/** Locks held by this process: a closed-over client alone may be collected (and its lock dropped) by the GC. */
const held = new Set<SqlClient>();

/** How long a refused start waits for the holder to write its pid (it writes it right after locking). */
const PID_WAIT_MS = 1_000;

/** Takes the data dir's lock, or throws DataDirInUseError naming the holder. The dir must exist. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const client = await openClient(join(dataDir, LOCK_FILE));
  try {
    client.exec("PRAGMA busy_timeout = 0"); // refuse at once: better-sqlite3 would wait 5 s
    client.exec("PRAGMA locking_mode = EXCLUSIVE");
    client.exec("BEGIN EXCLUSIVE");
    client.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)");
    client.exec("DELETE FROM holder");
    client.prepare("INSERT INTO holder (pid, since) VALUES (?, ?)").run(process.pid, new Date().toISOString());
    client.exec("COMMIT"); // in EXCLUSIVE mode the write lock stays after the commit
  } catch (err) {
    client.close();
    if (!isBusy(err)) throw err;
    throw new DataDirInUseError(dataDir, await holderPid(dataDir));
  }
  held.add(client);
  writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.delete(client);
      client.close();
    },
  };
}

function isBusy(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (typeof e?.code === "string" && e.code.startsWith("SQLITE_BUSY")) || /database is locked/i.test(String(e?.message ?? ""));
}

/** The pid in LOCK.pid once it names a live process other than us (the holder may not have written it yet). */
async function holderPid(dataDir: string): Promise<number | undefined> {
  const deadline = Date.now() + PID_WAIT_MS;
  let pid: number | undefined;
  for (;;) {
    pid = readPid(dataDir);
    if (pid !== undefined && (pid === process.pid || isAlive(pid))) return pid;
    if (Date.now() > deadline) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readPid(dataDir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dataDir, PID_FILE), "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}
