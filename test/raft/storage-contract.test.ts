// One RaftStorage contract, two implementations: the in-memory reference and
// the SQLite storage every node runs (over a real database file, reopened as
// a restarted process would).
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStorage } from "../../core/raft/index.ts";
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { openStore } from "../../core/store/db.ts";
import { storageContract } from "./storage-contract.ts";

storageContract("MemoryStorage", () => {
  const storage = new MemoryStorage();
  return { storage, reopen: () => storage, close() {} };
});

const dir = mkdtempSync(join(tmpdir(), "corral-raft-storage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storageContract("SqliteRaftStorage", async () => {
  const path = join(dir, `state-${++n}.db`);
  const store = await openStore(path, { sync: "full" });
  // A second connection to the same file, as a restarted process: it sees only what was committed.
  const reader = await openStore(path);
  return {
    storage: new SqliteRaftStorage(store),
    reopen: () => new SqliteRaftStorage(reader),
    close: () => {
      reader.close();
      store.close();
    },
  };
});
