// The page cache each store opens with (core/store/db.ts PAGE_CACHE_KIB): a
// leader's hot rows (every node's allocations, the log's tail) outgrow
// SQLite's 2 MiB default, and a read past it goes back to the OS for its
// pages (docs/scale.md, "Fourth round").
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openStore, PAGE_CACHE_KIB } from "../../core/store/db.ts";
import { tempDir } from "../helpers/proc.ts";

test("a store's page cache holds 64 MiB, not SQLite's 2 MiB default", async () => {
  const dir = tempDir();
  const store = await openStore(join(dir, "state.db"));
  try {
    expect(PAGE_CACHE_KIB).toBe(64 * 1024);
    // Negative: a size in KiB (SQLite's convention), the default being -2000.
    expect(store.client.prepare("PRAGMA cache_size").get()).toEqual({ cache_size: -PAGE_CACHE_KIB });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
