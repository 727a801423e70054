// The plugin host in a real dev process: run-time toggles without leaks,
// failure isolation, hot reload of an external plugin file, SIGHUP reload.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";
import { pluginTestRoot } from "../helpers/plugin-root.ts";

// A folder corral trusts, where bare imports in the fixtures (zod, @hono/zod-openapi)
// resolve from the project's node_modules.
const tmpRoot = pluginTestRoot();
const pluginDir = mkdtempSync(join(tmpRoot, "plugins-"));
for (const f of ["hello.ts", "broken-setup.ts", "broken-handler.ts"]) {
  cpSync(join(ROOT, "test/fixtures/plugins", f), join(pluginDir, f));
}

let p: CorralProcess;
const json = { "content-type": "application/json" };
const toggle = (name: string, enabled: boolean) =>
  getJson(`${p.url}/v1/plugins/${name}`, { method: "PUT", headers: json, body: JSON.stringify({ enabled }) });

beforeAll(async () => {
  // External plugins start only when plugins.enabled names them (test/security/local.test.ts covers the rest).
  const enabled = [...builtinPlugins().map((m) => m.name), "hello", "broken-setup", "broken-handler"];
  p = await startCorral({ role: "dev", config: `[plugins]\ndir = "${pluginDir}"\nenabled = ${JSON.stringify(enabled)}\n\n[plugins.hello]\nwho = "corral"\n` });
});
afterAll(async () => {
  if (p && p.child.exitCode !== null) console.error(`corral exited (${p.child.exitCode}):\n${p.output().slice(-3000)}`);
  await killAll();
  rmSync(pluginDir, { recursive: true, force: true });
});

async function self() {
  return (await getJson(`${p.url}/v1/agent/self`)).body.corral;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]);
}

describe("plugin host", () => {
  test("external plugins load with their config", async () => {
    const r = await getJson(`${p.url}/v1/hello`);
    expect(r.status).toBe(200);
    expect(r.body.greeting).toBe("hello corral");
  });

  test("a plugin that throws in setup is failed, with its error; the node keeps serving", async () => {
    const b = (await getJson(`${p.url}/v1/plugins/broken-setup`)).body;
    expect(b.state).toBe("failed");
    expect(b.error).toContain("boom in setup");
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);
    const again = await toggle("broken-setup", true);
    expect(again.status).toBe(500);
    expect(again.body.code).toBe("PLUGIN_SETUP_FAILED");
  });

  test("a plugin whose handler keeps throwing is failed and released; others keep serving", async () => {
    // One throwing request is one 500; the plugin stays (docs/plugins.md, "Failures").
    const r = await getJson(`${p.url}/v1/broken`);
    expect(r.status).toBe(500);
    expect(r.body.code).toBe("PLUGIN_FAILED");
    expect((await getJson(`${p.url}/v1/plugins/broken-handler`)).body.state).toBe("enabled");
    // REQUEST_FAILURE_LIMIT (10) within a minute disable it.
    for (let i = 1; i < 10; i++) expect((await getJson(`${p.url}/v1/broken`)).body.code).toBe("PLUGIN_FAILED");
    const info = await eventually(async () => {
      const b = (await getJson(`${p.url}/v1/plugins/broken-handler`)).body;
      return b.state === "failed" && b;
    }, 2000);
    expect(info.error).toContain("boom in handler");
    expect((await getJson(`${p.url}/v1/broken`)).status).toBe(404);
    expect((await getJson(`${p.url}/v1/hello`)).status).toBe(200);
    expect((await getJson(`${p.url}/v1/probe`)).status).toBe(200);
  });

  test("enable/disable 200 times leaks no timers, routes or memory", async () => {
    const before = await self();
    // Warm up, so allocator growth from first use isn't counted as a leak.
    for (let i = 0; i < 20; i++) {
      await toggle("hello", false);
      await toggle("hello", true);
    }
    const rss0 = rssKb(p.child.pid!);
    for (let i = 0; i < 200; i++) {
      expect((await toggle("hello", false)).body.state).toBe("disabled");
      expect((await toggle("probe", false)).body.state).toBe("disabled");
      expect((await toggle("hello", true)).body.state).toBe("enabled");
      expect((await toggle("probe", true)).body.state).toBe("enabled");
    }
    const after = await self();
    expect(after.pluginResources).toEqual(before.pluginResources);
    expect(after.routes).toBe(before.routes);
    // Memory is bounded: the garbage collector's timing makes RSS swing by
    // ~25 MB here, while a leak of one route table per toggle (800 rebuilds)
    // would add far more. Measured over the 800 rebuilds: 36-55 MB with the
    // 194 routes of 2723b2f, 66-69 MB with today's ~220 routes and longer
    // middleware chain, so the bound moved from 64 to 96 MB. It is not a leak:
    // run alone, 100 rounds grew RSS by 45 MB and 400 rounds by 38 MB (a plateau
    // of the allocator, not growth per rebuild).
    const grownKb = rssKb(p.child.pid!) - rss0;
    expect(grownKb).toBeLessThan(96 * 1024);
    expect((await getJson(`${p.url}/v1/hello`)).status).toBe(200);
    // 880 route-table rebuilds: ~15 s on an idle machine, past 60 s on a busy one (the
    // suite's shards side by side); on a time-out the file's node is killed and every
    // later test here fails with it. The suite's own bound, then.
  }, 120_000);

  test("editing an external plugin's file hot-reloads it", async () => {
    const file = join(pluginDir, "hello.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace(`const GREETING = "hello"`, `const GREETING = "howdy"`));
    const r = await eventually(async () => {
      const g = await getJson(`${p.url}/v1/hello`);
      return g.body?.greeting === "howdy corral" && g;
    }, 5000);
    expect(r.status).toBe(200);
    const info = (await getJson(`${p.url}/v1/plugins/hello`)).body;
    expect(info.state).toBe("enabled");
    expect(info.reloads).toBeGreaterThan(0);
  });

  test("a broken edit marks the plugin failed, a fixed one brings it back", async () => {
    const file = join(pluginDir, "hello.ts");
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good + "\nthis is not typescript(\n");
    await eventually(async () => (await getJson(`${p.url}/v1/plugins/hello`)).body.state === "failed", 5000);
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);
    writeFileSync(file, good);
    await eventually(async () => (await getJson(`${p.url}/v1/hello`)).status === 200, 5000);
  });

  test("POST reload restarts a plugin", async () => {
    const r = await getJson(`${p.url}/v1/plugins/probe/reload`, { method: "POST" });
    expect(r.status).toBe(200);
    expect(r.body.state).toBe("enabled");
    expect((await getJson(`${p.url}/v1/plugins/nope/reload`, { method: "POST" })).status).toBe(404);
  });

  test("SIGHUP re-reads the config: plugins follow it, a bad file is refused", async () => {
    const file = p.configFile!;
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original + `\n[plugins.probe]\ninterval = "2s"\n`);
    writeFileSync(file, readFileSync(file, "utf8").replace(/^enabled = .*$/m, `enabled = []`));
    p.child.kill("SIGHUP");
    await eventually(async () => (await getJson(`${p.url}/v1/plugins/probe`)).body.state === "disabled", 5000);
    expect((await getJson(`${p.url}/v1/probe`)).status).toBe(404);

    writeFileSync(file, "[plugins\nbroken");
    p.child.kill("SIGHUP");
    await eventually(() => p.output().includes("config reload refused"), 5000);
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);

    writeFileSync(file, original);
    p.child.kill("SIGHUP");
    await eventually(async () => (await getJson(`${p.url}/v1/plugins/probe`)).body.state === "enabled", 5000);
  });
});
