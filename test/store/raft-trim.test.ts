// Compacted log entries leave the log table a slice per Ready (SqliteRaftStorage.trim),
// never beyond the stored snapshot: not after a restart that left some
// behind, not after a compaction whose transaction rolled back.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { openStore, type Store } from "../../core/store/db.ts";
import type { Entry } from "../../core/raft/index.ts";

const dir = mkdtempSync(join(tmpdir(), "corral-trim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows = (store: Store) => store.client.prepare("SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi FROM log").get() as { n: number; lo: number; hi: number };
const entries = (from: number, to: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term: 1, type: "normal" as const, data: `e${from + i}` }));

test("compacted entries go a slice per call, only up to the stored snapshot", async () => {
  const store = await openStore(join(dir, "state.db"));
  const storage = new SqliteRaftStorage(store);
  store.transaction(() => storage.save({ entries: entries(1, 600), hardState: { term: 1, vote: null, commit: 600 } }));
  store.transaction(() => storage.compact({ index: 550, term: 1, voters: ["a"], data: "{}" }));
  expect(rows(store)).toEqual({ n: 600, lo: 1, hi: 600 }); // nothing deleted in the compaction itself

  store.transaction(() => storage.trim(256));
  expect(rows(store)).toEqual({ n: 344, lo: 257, hi: 600 });

  // A restart reads nothing below the snapshot and trims what is left.
  const restarted = new SqliteRaftStorage(store);
  expect(restarted.load()!.entries.map((e) => e.index)).toEqual(entries(551, 600).map((e) => e.index));
  store.transaction(() => restarted.trim(256));
  store.transaction(() => restarted.trim(256));
  expect(rows(store)).toEqual({ n: 50, lo: 551, hi: 600 });

  // A compaction that rolled back moved no bound: nothing more goes.
  expect(() =>
    store.transaction(() => {
      restarted.compact({ index: 590, term: 1, voters: ["a"], data: "{}" });
      throw new Error("disk full");
    }),
  ).toThrow("disk full");
  store.transaction(() => restarted.trim(256));
  expect(rows(store)).toEqual({ n: 50, lo: 551, hi: 600 });
  store.close();
});
