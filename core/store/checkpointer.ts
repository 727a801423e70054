// SQLite's WAL checkpoints on a worker thread, off the event loop.
//
// Why: in WAL mode every commit appends whole pages to state.db-wal, and by
// default the commit that takes the WAL past 1,000 pages runs a checkpoint
// itself: it copies the pages into state.db and syncs both files, inside
// that commit, on the one thread that also answers requests and runs Raft.
// A Raft write commits two transactions of a few pages each, so on a node
// under steady writes one write in every ~150 paid a checkpoint (measured
// here: 3-17 ms, and past 100 ms while the disk was busy) — that is the p99
// of one client's writes (docs/raft.md, "Checkpoints off the event loop").
//
// How: a Bun worker opens its own connection to the same file and runs
// `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`. A passive checkpoint
// never waits for the writer and the writer never waits for it (WAL mode:
// one writer and a checkpointer go side by side; it copies only frames
// committed before it started). The main connection keeps an automatic
// checkpoint only as a backstop (WAL past BACKSTOP_PAGES, if the worker
// could not keep up or died). Durability does not change: a checkpoint
// syncs the WAL before copying and the database after, whoever runs it.
//
// Only under Bun (the binary and `npm start`); under Node the automatic
// checkpoint stays as SQLite sets it.
import type { SqlClient } from "./driver.ts";

/**
 * The main connection's own checkpoint, as a backstop: at 2,000 pages of WAL
 * (SQLite's default is 1,000). The WAL can start over from its beginning
 * only when a checkpoint has copied every frame, which a checkpoint beside a
 * writer that never pauses does not reach; the writer's own checkpoint then
 * finds nearly every frame copied already and has little left to do.
 */
export const BACKSTOP_PAGES = 2_000;

export interface Checkpointer {
  /** Checkpoints done and failed so far (for tests and metrics). */
  counts(): { done: number; failed: number };
  stop(): void;
}

// The worker's source, run from a blob URL so the single-file binary needs no second file.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db, timer, done = 0, failed = 0, intervalMs = 200;
function round() {
  let behind = false;
  try {
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
    if (r.busy) failed++; else done++;
    behind = r.log > r.checkpointed; // the writer went on meanwhile: again soon, to catch up while it pauses
  } catch { failed++; }
  postMessage({ done, failed });
  timer = setTimeout(round, behind ? 2 : intervalMs);
}
self.onmessage = (e) => {
  const m = e.data;
  if (m.open) {
    db = new Database(m.open);
    db.exec("PRAGMA busy_timeout = 0");
    intervalMs = m.intervalMs;
    timer = setTimeout(round, intervalMs);
  } else if (m.close) {
    // Closed here, on its own thread, between checkpoints: a thread stopped
    // in the middle of one would leave its locks held in this process.
    clearTimeout(timer);
    try { db && db.close(); } catch {}
    process.exit(0);
  }
};
`;

/**
 * Starts checkpointing `path` on a worker and lowers the main connection's
 * automatic checkpoint to a backstop. undefined where workers with
 * bun:sqlite are not available (Node), leaving SQLite's default.
 */
export function startCheckpointer(path: string, main: SqlClient, opts: { intervalMs?: number } = {}): Checkpointer | undefined {
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined" || typeof Worker === "undefined") return undefined;
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url);
  let counts = { done: 0, failed: 0 };
  worker.onmessage = (e: MessageEvent) => {
    URL.revokeObjectURL(url); // loaded by now (revoked before, the worker finds no source)
    if (typeof e.data?.done === "number") counts = { done: e.data.done, failed: e.data.failed };
  };
  // A worker that cannot run gives the checkpoints back to SQLite as it sets them.
  worker.onerror = () => {
    try {
      main.exec("PRAGMA wal_autocheckpoint = 1000");
    } catch {
      // the store was closed meanwhile
    }
  };
  worker.unref();
  worker.postMessage({ open: path, intervalMs: opts.intervalMs ?? 200 });
  main.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  return {
    counts: () => counts,
    // The worker closes its connection and exits (never terminated from here, see above).
    stop: () => worker.postMessage({ close: true }),
  };
}
