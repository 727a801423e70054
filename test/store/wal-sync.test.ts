// The leader's deferred sync on a real database file (core/store/wal-sync.ts,
// SqliteRaftStorage.deferredSync): offered only where it is meant to run, it
// flushes the WAL SQLite writes and reports failures instead of hiding them.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { openStore } from "../../core/store/db.ts";
import { walSync } from "../../core/store/wal-sync.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-wal-sync-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const synced = (start: (done: (err?: Error) => void) => void) =>
  new Promise<Error | undefined>((resolve) => start((err) => resolve(err)));

test("offered with raft.sync = full and leader_fsync = parallel only", async () => {
  const full = await openStore(join(dir, "full.db"), { sync: "full" });
  const normal = await openStore(join(dir, "normal.db"), { sync: "normal" });
  const memory = await openStore(":memory:", { sync: "full" });
  try {
    expect(new SqliteRaftStorage(full, { leaderFsync: "parallel" }).deferredSync()).toBeDefined();
    expect(new SqliteRaftStorage(full, { leaderFsync: "inline" }).deferredSync()).toBeUndefined();
    expect(new SqliteRaftStorage(full).deferredSync()).toBeUndefined();
    expect(new SqliteRaftStorage(normal, { leaderFsync: "parallel" }).deferredSync()).toBeUndefined();
    expect(new SqliteRaftStorage(memory, { leaderFsync: "parallel" }).deferredSync()).toBeUndefined();
  } finally {
    for (const s of [full, normal, memory]) s.close();
  }
});

test("an unsynced commit, then the sync: it completes, is counted as an fsync, and the entries read back", async () => {
  const path = join(dir, "entries.db");
  const store = await openStore(path, { sync: "full" });
  try {
    const storage = new SqliteRaftStorage(store, { leaderFsync: "parallel" });
    const sync = storage.deferredSync()!;
    storage.atomically(false, () =>
      storage.save({ entries: [{ index: 1, term: 1, type: "normal", data: "x" }], hardState: { term: 1, vote: "a", commit: 0 } }),
    );
    const before = storage.fsyncs;
    expect(await synced(sync.start)).toBeUndefined();
    expect(storage.fsyncs).toBe(before + 1);
    const reader = await openStore(path);
    try {
      expect(new SqliteRaftStorage(reader).entries(1, 1).map((e) => e.data)).toEqual(["x"]);
    } finally {
      reader.close();
    }
  } finally {
    store.close();
  }
});

test("one sync in flight at a time: starts made meanwhile share the next one, begun after it returns", async () => {
  const store = await openStore(join(dir, "coalesce.db"), { sync: "full" });
  try {
    const storage = new SqliteRaftStorage(store, { leaderFsync: "parallel" });
    const sync = storage.deferredSync()!;
    storage.atomically(false, () => storage.save({ entries: [{ index: 1, term: 1, type: "normal", data: "x" }], hardState: { term: 1, vote: "a", commit: 0 } }));
    const before = storage.fsyncs;
    const order: number[] = [];
    const all = [1, 2, 3, 4].map((i) => synced((done) => sync.start((err) => (order.push(i), done(err)))));
    expect(await Promise.all(all)).toEqual([undefined, undefined, undefined, undefined]);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(storage.fsyncs - before).toBe(2); // the first, then one for the three that came while it ran
  } finally {
    store.close();
  }
});

test("a WAL that cannot be opened is an error, not a silent success", async () => {
  const err = await synced((done) => walSync(join(dir, "no-such-db.db"), done));
  expect(err?.message).toContain("ENOENT");
});
