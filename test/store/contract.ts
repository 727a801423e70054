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
import { SqliteRaftStorage } from "../../core/cluster/raft/storage.ts";
import { testReplicator } from "../helpers/replicator.ts";
import { createStateReader } from "../../core/state/reader.ts";
import type { Command } from "../../core/state/commands.ts";
import { decodeDump, dumpState, encodeDump, restoreState } from "../../core/state/snapshot.ts";

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

const replicator = testReplicator;

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
    for (const table of [schema.log, schema.meta, schema.nodes, schema.kv, schema.kvTombstones, schema.raftSnapshot,
      schema.services, schema.checks, schema.catalogNodes, schema.catalogTombstones,
      schema.aclTokens, schema.aclPolicies, schema.aclTokenPolicies, schema.aclBootstrap, schema.intentions, schema.auditLog]) {
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
    const log = replicator(s, fsm);
    await log.propose(register("11111111-1111-4111-8111-111111111111", "n1"));
    const row = createStateReader(s, fsm).getNode("n1")!;
    assert.deepEqual(row.resources, { cpuMhz: 4000, cores: 2, memoryBytes: 8e9, diskBytes: 1e11 });
    assert.deepEqual(row.meta, { rack: "r1" });
    await log.close();
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
    let log = replicator(s, fsm);
    const a = await log.propose(register("11111111-1111-4111-8111-111111111111", "n1"));
    const b = await log.propose(register("22222222-2222-4222-8222-222222222222", "n2"));
    const c = await log.propose({ type: "SetNodeStatus", v: 1, at: 5, nodeId: "11111111-1111-4111-8111-111111111111", status: "down" });
    assert.deepEqual([b.index - a.index, c.index - b.index], [1, 1]);
    const refused = await log.propose(register("33333333-3333-4333-8333-333333333333", "n2"));
    assert.equal(refused.result.ok, false);
    assert.equal(refused.index, c.index + 1); // a refusal is still an ordered, applied entry
    await log.close();
    s.close();

    s = await openStore(path);
    fsm = new Fsm(s);
    assert.equal(fsm.appliedIndex(), refused.index);
    const reader = createStateReader(s, fsm);
    assert.equal(reader.getNode("n1")!.status, "down");
    assert.equal(reader.getNode("n1")!.modifyIndex, c.index);
    assert.equal(reader.listNodes().length, 2);
    log = replicator(s, fsm);
    const next = await log.propose({ type: "Noop", v: 1, at: 0 });
    assert.ok(next.index > refused.index);
    await log.close();
    s.close();
  });

  test("committed but unapplied entries are applied on open", async () => {
    const path = dbPath();
    let s = await openStore(path);
    // As a follower can leave it: entries persisted and known committed, not yet applied.
    s.transaction(() =>
      new SqliteRaftStorage(s).save({
        entries: [
          { index: 1, term: 1, type: "conf", data: JSON.stringify({ voters: ["self"] }) },
          { index: 2, term: 1, type: "normal", data: JSON.stringify(register("11111111-1111-4111-8111-111111111111", "n1")) },
        ],
        hardState: { term: 1, vote: null, commit: 2 },
      }),
    );
    s.close();
    s = await openStore(path);
    const fsm = new Fsm(s);
    assert.equal(fsm.appliedIndex(), 0);
    const log = replicator(s, fsm);
    assert.equal(fsm.appliedIndex() >= 2, true);
    assert.equal(createStateReader(s, fsm).getNode("n1")!.createIndex, 2);
    await log.close();
    s.close();
  });

  test("a state dump restores into an empty store", async () => {
    const s1 = await openStore(dbPath());
    const fsm1 = new Fsm(s1);
    const log1 = replicator(s1, fsm1);
    await log1.propose(register("11111111-1111-4111-8111-111111111111", "n1"));
    await log1.propose({ type: "KVSet", v: 1, at: 1, key: "a/b", value: Buffer.from("hi").toString("base64"), flags: 7 });
    const dump = s1.transaction(() => encodeDump(dumpState(s1)));
    await log1.close();
    s1.close();
    const s2 = await openStore(dbPath());
    s2.transaction(() => restoreState(s2, decodeDump(dump, s2)));
    const r2 = createStateReader(s2, new Fsm(s2));
    assert.equal(r2.getNode("n1")!.name, "n1");
    assert.equal(r2.kvGet("a/b")!.flags, 7);
    s2.close();
  });

  test("invalid commands are refused before they reach the log", async () => {
    const s = await openStore(dbPath());
    const log = replicator(s, new Fsm(s));
    const before = s.db.select().from(schema.log).all().length;
    await assert.rejects(log.propose({ type: "SetNodeStatus", v: 1, at: 1, nodeId: "", status: "down" } as Command), /invalid command/);
    assert.equal(s.db.select().from(schema.log).all().length, before);
    await log.close();
    s.close();
  });
}
