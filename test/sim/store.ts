// The simulator's "disk": the project's own Store (migrations, drizzle,
// statement cache) over an in-memory bun:sqlite database. It survives a
// simulated crash because the simulator keeps the object; everything built
// on it (Fsm, storage, RaftNode, driver) is thrown away and rebuilt.
// Opening is synchronous (nodes join mid-run) and cheap: the migrated
// schema is built once and copied with sqlite3_deserialize.
import { Database } from "bun:sqlite";
import { bunClient } from "../../core/store/driver.ts";
import { storeOverClient, type Store } from "../../core/store/db.ts";

let template: Uint8Array | undefined;

export function openMemoryStore(): Store {
  if (!template) {
    const db = new Database(":memory:");
    const migrated = storeOverClient(bunClient(db), ":memory:", "bun");
    template = db.serialize();
    migrated.close();
  }
  return storeOverClient(bunClient(Database.deserialize(template)), ":memory:", "bun");
}
