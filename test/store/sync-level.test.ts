// Store.fsyncCommits switches SQLite's synchronous level between the Raft
// driver's durable units (FULL: the commit fsyncs the WAL) and its apply-only
// ones (NORMAL). The level must follow every switch, not only the first two:
// `PRAGMA synchronous = x` takes effect when SQLite compiles it, so running a
// compiled statement again (the client's statement cache) can leave the level
// unchanged, and a log append would then be acknowledged without its fsync.
// Read back here on the real file database through a connection-level query
// that is compiled anew each time.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { bunClient } from "../../core/store/driver.ts";
import { storeOverClient } from "../../core/store/db.ts";
import { tempDir } from "../helpers/proc.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the synchronous level follows every fsyncCommits switch (raft.sync = full)", () => {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir, "state.db");
  const raw = new Database(path, { create: true, strict: false });
  const store = storeOverClient(bunClient(raw), path, "bun", { sync: "full" });
  const level = () => (raw.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
  const FULL = 2, NORMAL = 1;
  expect(level()).toBe(FULL);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    const durable = i % 2 === 1;
    store.fsyncCommits(durable);
    // A write in between, as the driver's transactions do.
    store.transaction(() => store.client.prepare("INSERT INTO meta (key, value) VALUES ('probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(i)));
    seen.push(level());
  }
  expect(seen).toEqual([NORMAL, FULL, NORMAL, FULL, NORMAL, FULL]);
  store.close();
});
