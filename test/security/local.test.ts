// Security issue 13, classes "Files", "Bad state", "Local trust" and "Fair
// limits" (docs/security.md), against real corral processes: what another
// local user or a client holding one token could do to a node.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Database } from "bun:sqlite";
import { startCorral, killAll, tempDir, getJson, sleep, eventually, ROOT } from "../helpers/proc.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { BUN, reapTasks, waitRunning } from "../jobs/cluster-helpers.ts";
import { cpuTicks, evilPlugin, modeOf, octal, routePlugin, startUnderUmask, walk } from "./helpers-local.ts";
import { pluginTestRoot } from "../helpers/plugin-root.ts";

// Plugin folders inside the checkout, so the plugins' bare imports (zod) resolve.
const tmpRoot = pluginTestRoot();
const made: string[] = [];
function pluginsDir(): string {
  const d = mkdtempSync(join(tmpRoot, "sec-plugins-"));
  made.push(d);
  return d;
}
const BUILTINS = builtinPlugins().map((m) => m.name);

afterAll(async () => {
  await killAll();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

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
    // The upgrade is said, with the paths.
    expect(p.output()).toContain("data dir: made files 0600");
    expect(p.output()).toContain(join(dataDir, "old", "leftover.json"));
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

  test("three leaders: a bad snapshot sent to a follower is refused; the cluster keeps its leader and takes writes", async () => {
    const cluster = new TestCluster({ size: 3, direct: true });
    try {
      await cluster.start();
      const leader = await cluster.waitLeader();
      const follower = cluster.nodes[(leader + 1) % 3]!;
      expect((await fetch(`${follower.url}/v1/kv/keep`, { method: "PUT", body: "me" })).status).toBe(200);
      const snap = (await getJson(`${cluster.nodes[leader]!.url}/v1/snapshot`)).body;
      snap.tables.kv.rows.push(snap.tables.kv.columns.map(() => null));
      const r = await getJson(`${follower.url}/v1/snapshot`, { method: "PUT", body: JSON.stringify(snap), signal: AbortSignal.timeout(20_000) });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_SNAPSHOT");
      for (const n of cluster.nodes) {
        expect((await getJson(`${n.url}/v1/kv/after-${n.index}`, { method: "PUT", body: "ok", signal: AbortSignal.timeout(15_000) })).status).toBe(200);
      }
      expect(await cluster.leader()).toBe(leader);
      for (const n of cluster.nodes) expect((await getJson(`${n.url}/v1/healthz`)).status).toBe(200);
    } finally {
      await cluster.stop();
    }
  }, 90_000);

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

describe("Local trust: plugins.dir runs only the node user's code", () => {
  test("a world-writable plugins.dir is refused whole, with a log line naming it", async () => {
    const dir = pluginsDir();
    const marker = join(tempDir(), "ran");
    writeFileSync(join(dir, "evil.ts"), evilPlugin("evil", marker));
    chmodSync(dir, 0o777);
    const p = await startCorral({ config: `[plugins]\ndir = "${dir}"\nenabled = ${JSON.stringify([...BUILTINS, "evil"])}\n` });
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
    expect(p.output()).toContain("plugins.dir refused");
    expect(p.output()).toContain(dir);
    expect(p.output()).toContain("writable by every user");
    expect((await getJson(`${p.url}/v1/plugins/evil`)).status).toBe(404);
    await p.kill("SIGTERM");
  });

  test("files owned by another user, writable by group/others, or symlinked from outside are refused; a clean one runs", async () => {
    const dir = pluginsDir();
    const outside = tempDir();
    const markers = { grp: join(outside, "grp"), other: join(outside, "other"), link: join(outside, "link"), dirlink: join(outside, "dirlink") };
    writeFileSync(join(dir, "grp.ts"), evilPlugin("grp", markers.grp));
    chmodSync(join(dir, "grp.ts"), 0o664);
    writeFileSync(join(dir, "other.ts"), evilPlugin("other", markers.other));
    chownSync(join(dir, "other.ts"), 65534, 65534); // nobody
    chmodSync(join(dir, "other.ts"), 0o644);
    // A link to a file outside plugins.dir (whoever controls the target controls the plugin).
    const target = join(ROOT, ".tmp", `sec-outside-${process.pid}.ts`);
    made.push(target);
    writeFileSync(target, evilPlugin("link", markers.link));
    symlinkSync(target, join(dir, "link.ts"));
    // A folder plugin whose index links out.
    mkdirSync(join(dir, "dirlink"));
    const target2 = join(ROOT, ".tmp", `sec-outside2-${process.pid}.ts`);
    made.push(target2);
    writeFileSync(target2, evilPlugin("dirlink", markers.dirlink));
    symlinkSync(target2, join(dir, "dirlink", "index.ts"));
    writeFileSync(join(dir, "clean.ts"), routePlugin("clean"));
    chmodSync(join(dir, "clean.ts"), 0o644);

    const enabled = [...BUILTINS, "grp", "other", "link", "dirlink", "clean"];
    const p = await startCorral({ config: `[plugins]\ndir = "${dir}"\nenabled = ${JSON.stringify(enabled)}\n` });
    expect((await getJson(`${p.url}/v1/clean`)).status).toBe(200);
    for (const [name, marker] of Object.entries(markers)) {
      expect({ name, ran: existsSync(marker) }).toEqual({ name, ran: false });
      const info = (await getJson(`${p.url}/v1/plugins/${name}`)).body;
      expect({ name, state: info.state }).toEqual({ name, state: "failed" });
    }
    expect((await getJson(`${p.url}/v1/plugins/grp`)).body.error).toContain("writable by its group");
    expect((await getJson(`${p.url}/v1/plugins/other`)).body.error).toContain("owned by uid 65534");
    expect((await getJson(`${p.url}/v1/plugins/link`)).body.error).toContain("outside plugins.dir");
    expect((await getJson(`${p.url}/v1/plugins/dirlink`)).body.error).toContain("outside plugins.dir");
    expect(p.output()).toContain("plugin refused");
    expect(p.output()).toContain(join(dir, "grp.ts"));
    // Enabling a refused plugin does not run it either.
    expect((await getJson(`${p.url}/v1/plugins/grp`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"enabled":true}' })).status).not.toBe(200);
    expect(existsSync(markers.grp)).toBe(false);
    await p.kill("SIGTERM");
  });

  test("a new plugin file is not started until someone enables it", async () => {
    const dir = pluginsDir();
    const p = await startCorral({ config: `[plugins]\ndir = "${dir}"\nwatch = true\n` });
    writeFileSync(join(dir, "fresh.ts"), routePlugin("fresh"));
    // The watcher picks it up and lists it, disabled.
    const info = await eventually(async () => {
      const r = await getJson(`${p.url}/v1/plugins/fresh`);
      return r.status === 200 && r.body;
    }, 10_000);
    expect(info.state).toBe("disabled");
    await sleep(500);
    expect((await getJson(`${p.url}/v1/fresh`)).status).toBe(404);
    const on = await getJson(`${p.url}/v1/plugins/fresh`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"enabled":true}' });
    expect(on.status).toBe(200);
    expect((await getJson(`${p.url}/v1/fresh`)).status).toBe(200);
    await p.kill("SIGTERM");
  });
});

describe("Fair limits: one client cannot starve the others", () => {
  const held: AbortController[] = [];
  const bodies: Response[] = []; // referenced, so the collector does not close them
  const hold = async (url: string, token: string) => {
    const ac = new AbortController();
    held.push(ac);
    const r = await fetch(url, { headers: { "X-Consul-Token": token }, signal: ac.signal });
    bodies.push(r);
    if (r.status !== 200) {
      const body = (await r.json().catch(() => ({}))) as { error?: string; code?: string };
      return { status: r.status, body };
    }
    // Keep the body open (an endless stream or a waiting query); read nothing.
    return { status: r.status, body: undefined as { error?: string; code?: string } | undefined };
  };

  test("one token's 64+ event streams don't make another token's stream 429; the refusal names the limit", async () => {
    const p = await startCorral();
    const a = "token-a-" + randomUUID();
    const b = "token-b-" + randomUUID();
    const results = [];
    for (let i = 0; i < 70; i++) results.push(await hold(`${p.url}/v1/events`, a));
    // Another token still gets its stream, and its events.
    const other = await fetch(`${p.url}/v1/events?topic=kv`, { headers: { "X-Consul-Token": b } });
    expect(other.status).toBe(200);
    const refused = results.filter((r) => r.status === 429);
    expect(refused.length).toBe(70 - 8); // http.max_streams_per_token defaults to 8
    expect(refused[0]!.body?.code).toBe("TOO_MANY_STREAMS");
    expect(refused[0]!.body?.error).toContain("http.max_streams_per_token");
    await fetch(`${p.url}/v1/kv/fair`, { method: "PUT", body: "x" });
    const reader = other.body!.getReader();
    let text = "";
    while (!text.includes("fair")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("fair");
    await reader.cancel();
    // A's streams are released when A hangs up: it may open again.
    for (const ac of held.splice(0)) ac.abort();
    await eventually(async () => (await hold(`${p.url}/v1/events`, a)).status === 200, 10_000);
    for (const ac of held.splice(0)) ac.abort();
    await p.kill("SIGTERM");
  });

  test("log follows: one token is capped, another token still follows", async () => {
    const p = await startCorral({
      config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`,
    });
    try {
      const job = {
        id: "chatty",
        groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: BUN, args: ["-e", "setInterval(() => console.log('tick'), 200)"], resources: { cpu: 100, memory: 64 } }] }],
      };
      const run = await getJson(`${p.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job) });
      expect(run.status).toBeLessThan(300);
      const [alloc] = await waitRunning(p.url, "chatty", 1, 30_000);
      const url = `${p.url}/v1/alloc/${alloc.id}/logs?task=t&type=stdout&follow=true`;
      const a = "token-a-" + randomUUID();
      const results = [];
      for (let i = 0; i < 12; i++) results.push(await hold(url, a));
      expect(results.filter((r) => r.status === 200).length).toBe(8);
      const refused = results.filter((r) => r.status === 429);
      expect(refused.length).toBe(4);
      expect(refused[0]!.body?.error).toContain("http.max_streams_per_token");
      const other = await fetch(url, { headers: { "X-Consul-Token": "token-b-" + randomUUID() } });
      expect(other.status).toBe(200);
      await other.body!.cancel();
    } finally {
      for (const ac of held.splice(0)) ac.abort();
      await getJson(`${p.url}/v1/job/chatty?purge`, { method: "DELETE" }).catch(() => undefined);
      await sleep(1500);
      await p.kill("SIGTERM");
      reapTasks(p.dataDir);
    }
  }, 90_000);

  test("blocking queries: one token is capped, another token is not starved", async () => {
    const p = await startCorral();
    expect((await fetch(`${p.url}/v1/kv/wait`, { method: "PUT", body: "x" })).status).toBe(200);
    const index = (await fetch(`${p.url}/v1/kv/wait`)).headers.get("x-consul-index");
    const url = `${p.url}/v1/kv/wait?index=${index}&wait=5m`;
    const a = "token-a-" + randomUUID();
    const statuses: number[] = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < 80; i++) {
      const ac = new AbortController();
      controllers.push(ac);
      void fetch(url, { headers: { "X-Consul-Token": a }, signal: ac.signal }).then(async (r) => {
        statuses.push(r.status);
        if (r.status === 429) expect((await r.text())).toContain("http.max_blocking_per_token");
      }, () => undefined);
    }
    // The 16 over the cap (64 by default) come back at once with 429; the rest wait.
    await eventually(() => statuses.length >= 16, 15_000).catch(() => undefined);
    await sleep(500);
    expect(statuses).toEqual(Array(16).fill(429));
    const other = await fetch(`${p.url}/v1/kv/wait?index=${index}&wait=100ms`, { headers: { "X-Consul-Token": "token-b-" + randomUUID() } });
    expect(other.status).toBe(200);
    for (const ac of controllers) ac.abort();
    await p.kill("SIGTERM");
  });
});
