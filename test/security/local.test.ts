// Security issue 13, classes "Files", "Bad state", "Local trust" and "Fair
// limits" (docs/security.md), against real corral processes: what another
// local user or a client holding one token could do to a node.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Database } from "bun:sqlite";
import { startCorral, killAll, tempDir, getJson, sleep, eventually } from "../helpers/proc.ts";
import { cpuTicks, modeOf, octal, startUnderUmask, walk } from "./helpers-local.ts";

afterAll(() => killAll());

describe("Files: the data dir is private whatever the umask", () => {
  test("a node started under umask 000 leaves nothing group/world-readable, and fixes an old data dir", async () => {
    // An old data dir, as a loose umask or an older corral left it.
    const dataDir = join(tempDir(), "data");
    mkdirSync(join(dataDir, "old"), { recursive: true, mode: 0o777 });
    chmodSync(dataDir, 0o777);
    chmodSync(join(dataDir, "old"), 0o777);
    writeFileSync(join(dataDir, "node-id"), randomUUID() + "\n", { mode: 0o666 });
    writeFileSync(join(dataDir, "old", "leftover.json"), "{}", { mode: 0o666 });
    chmodSync(join(dataDir, "node-id"), 0o666);
    chmodSync(join(dataDir, "old", "leftover.json"), 0o666);

    const p = await startUnderUmask(0o000, { dataDir });
    // Writes: the WAL and shared-memory files exist and hold data.
    for (let i = 0; i < 20; i++) expect((await fetch(`${p.url}/v1/kv/files/${i}`, { method: "PUT", body: "secret-value" })).status).toBe(200);
    for (const f of ["state.db", "state.db-wal", "state.db-shm", "node-id", "cluster-secret"]) expect(existsSync(join(dataDir, f))).toBe(true);

    // 0711: tasks running as another user reach their allocation dir by path, but cannot list.
    expect(octal(modeOf(dataDir))).toBe(octal(0o711));
    const bad: string[] = [];
    // exec/ is the exec plugin's (task-owned files; modes set there).
    for (const path of walk(dataDir, ["exec"])) {
      const mode = modeOf(path);
      const dir = (await import("node:fs")).lstatSync(path).isDirectory();
      if (dir ? mode !== 0o700 : mode !== 0o600) bad.push(`${path} ${octal(mode)}`);
    }
    expect(bad).toEqual([]);
    await p.kill("SIGTERM");
  });
});

describe("Bad state: nothing wedges a node", () => {
  test("a snapshot with one invalid row is refused with a 400 naming it; the node keeps serving and stops on SIGTERM", async () => {
    const p = await startCorral();
    expect((await fetch(`${p.url}/v1/kv/keep`, { method: "PUT", body: "me" })).status).toBe(200);
    const snap = (await getJson(`${p.url}/v1/snapshot`)).body;
    const kv = snap.tables.kv;
    kv.rows.push(kv.columns.map(() => null)); // NOT NULL columns: invalid on every replica
    const r = await getJson(`${p.url}/v1/snapshot`, { method: "PUT", body: JSON.stringify(snap), signal: AbortSignal.timeout(20_000) });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("INVALID_SNAPSHOT");
    expect(r.body.error).toContain("table kv, row 2");

    // Not a JSON snapshot at all: 400 too.
    const junk = await getJson(`${p.url}/v1/snapshot`, { method: "PUT", body: '{"format":"corral-state-v1","schema":1,"tables":{"kv":{"columns":"x"}}}' });
    expect(junk.status).toBe(400);
    expect(junk.body.code).toBe("INVALID_SNAPSHOT");

    // Still serving writes and reads; the state is untouched.
    expect((await getJson(`${p.url}/v1/kv/after`, { method: "PUT", body: "ok", signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect((await getJson(`${p.url}/v1/kv/keep?raw`)).body).toBe("me");
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);
    // A valid restore still works.
    kv.rows.pop();
    expect((await getJson(`${p.url}/v1/snapshot`, { method: "PUT", body: JSON.stringify(snap) })).status).toBe(200);
    expect((await getJson(`${p.url}/v1/kv/after?raw`)).status).toBe(404);

    const t0 = Date.now();
    expect(await p.kill("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(12_000);
  });

  test("an entry that fails on every replica (already in an old node's log) is refused, not retried forever", async () => {
    const dataDir = join(tempDir(), "data");
    const first = await startCorral({ dataDir });
    expect((await fetch(`${first.url}/v1/kv/keep`, { method: "PUT", body: "me" })).status).toBe(200);
    const snap = (await getJson(`${first.url}/v1/snapshot`)).body;
    expect(await first.kill("SIGTERM")).toBe(0);

    // What an older corral let into the log: a restore whose row breaks a constraint.
    snap.tables.kv.rows.push(snap.tables.kv.columns.map(() => null));
    const db = new Database(join(dataDir, "state.db"));
    const last = db.prepare("SELECT idx, term FROM log ORDER BY idx DESC LIMIT 1").get() as { idx: number; term: number };
    const cmd = { type: "RestoreState", v: 1, at: Date.now(), data: JSON.stringify(snap) };
    db.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, 'normal', ?)").run(last.idx + 1, last.term, JSON.stringify(cmd));
    db.close();

    const p = await startCorral({ dataDir });
    const w = await getJson(`${p.url}/v1/kv/after`, { method: "PUT", body: "ok", signal: AbortSignal.timeout(15_000) });
    expect(w.status).toBe(200);
    expect((await getJson(`${p.url}/v1/kv/keep?raw`)).body).toBe("me");
    expect(p.output()).not.toContain("ready() called again");
    expect(await p.kill("SIGTERM")).toBe(0);
  });

  test("a state database that cannot be written stops the node: non-zero exit, a clear log line, no spinning", async () => {
    const p = await startCorral();
    expect((await fetch(`${p.url}/v1/kv/a`, { method: "PUT", body: "x" })).status).toBe(200);
    // Another process holds the write lock past the node's busy timeout (5 s): the next Ready cannot persist.
    const db = new Database(join(p.dataDir, "state.db"));
    db.exec("PRAGMA busy_timeout = 1000");
    db.exec("BEGIN IMMEDIATE");
    try {
      void fetch(`${p.url}/v1/kv/b`, { method: "PUT", body: "y", signal: AbortSignal.timeout(30_000) }).catch(() => {});
      const ended = await Promise.race([p.exited, sleep(30_000).then(() => "still running")]);
      if (ended === "still running") {
        // Before the fix: the node loops on "ready() called again before advance()" and says it is healthy.
        const ticks0 = cpuTicks(p.child.pid!);
        await sleep(2000);
        throw new Error(`node did not stop (healthz ${(await fetch(`${p.url}/v1/healthz`)).status}, ${cpuTicks(p.child.pid!) - ticks0} CPU ticks in 2 s)`);
      }
      expect(ended).not.toBe(0);
      expect(p.output()).toContain("persisting to the state database failed");
      expect(p.output()).not.toContain("ready() called again");
    } finally {
      db.exec("ROLLBACK");
      db.close();
    }
  }, 60_000);
});
