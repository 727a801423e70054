// A data dir written by the previous release (test/fixtures/prev-release,
// made by make-fixture.ts with commit 2723b2f) opens in this binary: the
// schema migrates forward, the log and snapshot it holds replay, and every
// KV entry, service, job, ACL policy and token is there, read as a user
// reads them. Then the same from a fresh old node built from git history,
// and the refusals of things from a newer release.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { BUN, ENTRY, ROOT, killAll, startCorral, tempDir } from "../helpers/proc.ts";
import { migrations } from "../../core/store/migrations.ts";
import { prevReleaseTree } from "./prev-release.ts";
import { SEED_ACL_CONFIG, check, seed, type SeedTokens } from "./seed.ts";

afterAll(() => killAll());

const FIXTURE = join(ROOT, "test/fixtures/prev-release");

/** A private copy (the node writes to it), with the modes the old release gave its files (git keeps none). */
function copyFixture(): string {
  const dir = join(tempDir(), "data");
  cpSync(join(FIXTURE, "datadir"), dir, { recursive: true });
  chmodSync(dir, 0o700);
  for (const f of ["cluster-secret", "node-id"]) chmodSync(join(dir, f), 0o600);
  return dir;
}

describe("a data dir of the previous release", () => {
  test("the committed fixture opens: everything written by 2723b2f is there, and the node takes writes", async () => {
    const dataDir = copyFixture();
    const tokens = JSON.parse(readFileSync(join(FIXTURE, "tokens.json"), "utf8")) as SeedTokens;
    const node = await startCorral({ role: "dev", dataDir, config: SEED_ACL_CONFIG });
    await check(node.url, tokens);
    const put = await fetch(node.url + "/v1/kv/app/after-upgrade", { method: "PUT", body: "yes", headers: { "X-Consul-Token": tokens.management } });
    expect(await put.json()).toBe(true);
    expect(await node.kill("SIGTERM")).toBe(0);
    const db = new Database(join(dataDir, "state.db"), { readonly: true });
    expect((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(migrations.length);
    db.close();
  }, 120_000);

  test("a data dir written just now by the previous release, built from git history", async () => {
    const tree = prevReleaseTree();
    if ("skip" in tree) {
      console.log(`skipped: ${tree.skip}`);
      return;
    }
    try {
      const dataDir = join(tempDir(), "data");
      const old = await startCorral({ role: "dev", entry: tree.entry, dataDir, config: SEED_ACL_CONFIG });
      const tokens = await seed(old.url);
      expect(await old.kill("SIGTERM")).toBe(0);
      const node = await startCorral({ role: "dev", dataDir, config: SEED_ACL_CONFIG });
      await check(node.url, tokens);
      await node.kill("SIGTERM");
    } finally {
      tree.remove();
    }
  }, 180_000);
});

describe("from a newer release: refused with a clear error", () => {
  test("a state database with a newer schema version", async () => {
    const dataDir = copyFixture();
    const db = new Database(join(dataDir, "state.db"));
    db.exec(`PRAGMA user_version = ${migrations.length + 1}`);
    db.close();
    const node = await startCorral({ role: "dev", dataDir, config: SEED_ACL_CONFIG, waitReady: false });
    expect(await node.exited).not.toBe(0);
    expect(node.output()).toContain(`state database schema version ${migrations.length + 1} is newer than this corral (${migrations.length}); upgrade corral`);
  }, 60_000);

  test("a log entry whose command version is newer: the node stops, naming the entry, and applies nothing of it", async () => {
    const dataDir = copyFixture();
    const db = new Database(join(dataDir, "state.db"));
    const last = db.prepare("SELECT idx, term FROM log ORDER BY idx DESC LIMIT 1").get() as { idx: number; term: number };
    const future = { type: "KVSet", v: 99, at: Date.now(), key: "app/from-the-future", value: "eA==", flags: 0 };
    db.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, 'normal', ?)").run(last.idx + 1, last.term, JSON.stringify(future));
    db.close();
    const node = await startCorral({ role: "dev", dataDir, config: SEED_ACL_CONFIG, waitReady: false });
    expect(await node.exited).toBe(70);
    expect(node.output()).toContain(`log entry ${last.idx + 1}: KVSet command version 99 is newer than this corral applies (up to 1); upgrade corral on this node`);
    const after = new Database(join(dataDir, "state.db"), { readonly: true });
    expect(after.prepare("SELECT count(*) AS n FROM kv WHERE key = 'app/from-the-future'").get()).toEqual({ n: 0 });
    after.close();
  }, 60_000);

  test("a snapshot in a newer format is refused by restore, and nothing changes", async () => {
    const dataDir = copyFixture();
    const tokens = JSON.parse(readFileSync(join(FIXTURE, "tokens.json"), "utf8")) as SeedTokens;
    const node = await startCorral({ role: "dev", dataDir, config: SEED_ACL_CONFIG });
    const env = { ...process.env, CORRAL_ADDR: node.url, CORRAL_TOKEN: tokens.management };
    const file = join(tempDir(), "backup.json");
    expect(spawnSync(BUN, [ENTRY, "operator", "snapshot", "save", file], { env, encoding: "utf8" }).status).toBe(0);
    const dump = JSON.parse(readFileSync(file, "utf8"));
    expect(dump.format).toBe("corral-state-v1");
    writeFileSync(file, JSON.stringify({ ...dump, format: "corral-state-v2" }));
    const r = spawnSync(BUN, [ENTRY, "operator", "snapshot", "restore", file], { env, encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("snapshot format corral-state-v2 is newer than this corral reads (corral-state-v1); upgrade corral first");
    await check(node.url, tokens);
  }, 60_000);
});
