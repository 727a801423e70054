// The store contract: one suite, run under Bun (store.test.ts, bun:sqlite)
// and under Node (store.node.ts, better-sqlite3). It uses node:assert and a
// minimal `test` function so that both runners can drive it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq, getTableColumns } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { openStore } from "../../core/store/db.ts";
import * as schema from "../../core/store/schema.ts";
import { migrations } from "../../core/store/migrations.ts";
import { Fsm } from "../../core/state/fsm.ts";
import { LocalLog } from "../../core/state/local-log.ts";
import { createStateReader } from "../../core/state/reader.ts";
import type { Command } from "../../core/state/commands.ts";

type TestFn = (name: string, fn: () => void | Promise<void>) => void;

const dirs: string[] = [];
function dbPath(): string {
  const d = mkdtempSync(join(tmpdir(), "corral-store-"));
  dirs.push(d);
  return join(d, "state.db");
}
export function cleanupStoreDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

const register = (id: string, name: string, at = 1): Command => ({
  type: "RegisterNode", v: 1, at,
  node: {
    id, name, address: "10.0.0.1:7700", datacenter: "dc1", role: "agent",
    attributes: { "os.name": "linux" },
    resources: { cpuMhz: 4000, cores: 2, memoryBytes: 8e9, diskBytes: 1e11 },
    reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: { rack: "r1" },
  },
});

export function storeContract(test: TestFn, expectedRuntime: string) {
  test("opens with the runtime's driver, WAL on, migrations applied", async () => {
    const s = await openStore(dbPath());
    assert.equal(s.runtime, expectedRuntime);
    const mode = s.client.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    assert.equal(mode.journal_mode, "wal");
    const v = s.client.prepare("PRAGMA user_version").get() as { user_version: number };
    assert.equal(v.user_version, migrations.length);
    s.close();
  });

  test("the drizzle schema matches the migrated tables", async () => {
    const s = await openStore(dbPath());
    for (const table of [schema.log, schema.meta, schema.nodes]) {
      const { name } = getTableConfig(table);
      const live = (s.client.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name).sort();
      const declared = Object.values(getTableColumns(table)).map((c) => c.name).sort();
      assert.deepEqual(live, declared, `table ${name}`);
    }
    s.close();
  });

  test("insert, select, update, JSON columns round-trip", async () => {
    const s = await openStore(dbPath());
    s.db.insert(schema.meta).values({ key: "k", value: "v1" }).run();
    s.db.update(schema.meta).set({ value: "v2" }).where(eq(schema.meta.key, "k")).run();
    assert.deepEqual(s.db.select().from(schema.meta).all(), [{ key: "k", value: "v2" }]);
    const fsm = new Fsm(s);
    const log = new LocalLog(s, fsm, { selfAddress: "x" });
    await log.propose(register("11111111-1111-4111-8111-111111111111", "n1"));
    const row = createStateReader(s, fsm).getNode("n1")!;
    assert.deepEqual(row.resources, { cpuMhz: 4000, cores: 2, memoryBytes: 8e9, diskBytes: 1e11 });
    assert.deepEqual(row.meta, { rack: "r1" });
    s.close();
  });

  test("transactions commit, roll back, and nest", async () => {
    const s = await openStore(dbPath());
    s.transaction(() => s.db.insert(schema.meta).values({ key: "a", value: "1" }).run());
    assert.throws(() =>
      s.transaction(() => {
        s.db.insert(schema.meta).values({ key: "b", value: "1" }).run();
        throw new Error("roll back");
      }),
    );
    s.transaction(() => {
      s.db.insert(schema.meta).values({ key: "c", value: "1" }).run();
      assert.throws(() =>
        s.client.transaction(() => {
          s.db.insert(schema.meta).values({ key: "d", value: "1" }).run();
          throw new Error("inner");
        })(),
      );
    });
    const keys = s.db.select().from(schema.meta).all().map((r) => r.key).sort();
    assert.deepEqual(keys, ["a", "c"]);
    s.close();
  });

  test("the command log orders, applies and survives a reopen", async () => {
    const path = dbPath();
    let s = await openStore(path);
    let fsm = new Fsm(s);
    let log = new LocalLog(s, fsm, { selfAddress: "x" });
    const a = await log.propose(register("11111111-1111-4111-8111-111111111111", "n1"));
    const b = await log.propose(register("22222222-2222-4222-8222-222222222222", "n2"));
    const c = await log.propose({ type: "SetNodeStatus", v: 1, at: 5, nodeId: "11111111-1111-4111-8111-111111111111", status: "down" });
    assert.deepEqual([a.index, b.index, c.index], [1, 2, 3]);
    const refused = await log.propose(register("33333333-3333-4333-8333-333333333333", "n2"));
    assert.equal(refused.result.ok, false);
    assert.equal(refused.index, 4); // a refusal is still an ordered, applied entry
    s.close();

    s = await openStore(path);
    fsm = new Fsm(s);
    assert.equal(fsm.appliedIndex(), 4);
    const reader = createStateReader(s, fsm);
    assert.equal(reader.getNode("n1")!.status, "down");
    assert.equal(reader.getNode("n1")!.modifyIndex, 3);
    assert.equal(reader.listNodes().length, 2);
    log = new LocalLog(s, fsm, { selfAddress: "x" });
    assert.equal((await log.propose({ type: "Noop", v: 1, at: 0 })).index, 5);
    s.close();
  });

  test("logged but unapplied entries are applied on open", async () => {
    const path = dbPath();
    let s = await openStore(path);
    // As a Raft follower leaves it: entries persisted, not yet applied.
    s.db.insert(schema.log).values({ idx: 1, term: 1, kind: "cmd", data: JSON.stringify(register("11111111-1111-4111-8111-111111111111", "n1")) }).run();
    s.db.insert(schema.log).values({ idx: 2, term: 1, kind: "noop", data: "" }).run();
    s.close();
    s = await openStore(path);
    const fsm = new Fsm(s);
    new LocalLog(s, fsm, { selfAddress: "x" });
    assert.equal(fsm.appliedIndex(), 2);
    assert.equal(createStateReader(s, fsm).getNode("n1")!.createIndex, 1);
    s.close();
  });

  test("invalid commands are refused before they reach the log", async () => {
    const s = await openStore(dbPath());
    const log = new LocalLog(s, new Fsm(s), { selfAddress: "x" });
    await assert.rejects(log.propose({ type: "SetNodeStatus", v: 1, at: 1, nodeId: "", status: "down" } as Command), /invalid command/);
    assert.equal(s.db.select().from(schema.log).all().length, 0);
    s.close();
  });
}
