// SIGHUP touches only what changed (issue 20, point 1), on a real dev node:
// an unchanged config restarts no plugin; a changed [plugins.dns] restarts
// dns alone while the invoke proxy keeps answering on the same port; a
// changed node-level key (node.datacenter) is logged as needing a restart; a new plugins.dir
// is loaded and its plugin starts because plugins.enabled names it;
// `corral plugins reload NAME` re-reads that plugin's table from the file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { startCorral, killAll, getJson, eventually, sleep, BUN, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { restartOnlyChanges } from "../../core/config/reload-diff.ts";
import { stableJson } from "../../core/stable-json.ts";
import { pluginTestRoot } from "../helpers/plugin-root.ts";

// A folder corral trusts, where the fixture's bare imports (zod) resolve (test/helpers/plugin-root.ts).
const tmpRoot = pluginTestRoot();
const laterDir = mkdtempSync(join(tmpRoot, "plugins-later-"));
cpSync(join(ROOT, "test/fixtures/plugins/hello.ts"), join(laterDir, "hello.ts"));

let p: CorralProcess;
const enabled = ["probe", "discovery", "dns", "invoke", "hello"];
const base = `[plugins]\nenabled = ${JSON.stringify(enabled)}\nwatch = false\n\n[plugins.dns]\nport = 0\n\n[plugins.invoke]\nport = 0\n`;

beforeAll(async () => {
  p = await startCorral({ role: "dev", config: base });
}, 30_000);
afterAll(async () => {
  await killAll();
  rmSync(laterDir, { recursive: true, force: true });
});

type Info = { name: string; state: string; reloads: number; since: number };
async function plugins(): Promise<Record<string, Info>> {
  const list = (await getJson<Info[]>(`${p.url}/v1/plugins`)).body;
  return Object.fromEntries(list.map((x) => [x.name, x]));
}

function invokePort(): number {
  const lines = p.output().split("\n").filter((l) => l.includes("invoke proxy listening"));
  const m = /"port":(\d+)/.exec(lines.at(-1) ?? "");
  if (!m) throw new Error(`no invoke port in the output:\n${p.output().slice(-2000)}`);
  return Number(m[1]);
}

async function hup(text: string, done: () => boolean | Promise<boolean>) {
  const mark = p.output().length;
  writeFileSync(p.configFile!, text);
  p.child.kill("SIGHUP");
  await eventually(() => p.output().slice(mark).includes("configuration reloaded"), 10_000);
  await eventually(done, 10_000);
  return p.output().slice(mark);
}

describe("reload (SIGHUP) touches only what changed", () => {
  test("pure: settings compare by content, not key order; restart-only keys are named as written", () => {
    expect(stableJson({ b: 1, a: { d: 2, c: 3 } })).toBe(stableJson({ a: { c: 3, d: 2 }, b: 1 }));
    const a: any = { role: "dev", node: { httpPort: 1, bind: "127.0.0.1" }, cluster: {}, leader: { nodeTtlMs: 1 }, raft: {}, agent: {}, http: { allowedHosts: [] }, tls: {}, plugins: {} };
    const b: any = { ...a, node: { httpPort: 2, bind: "127.0.0.1" }, leader: { nodeTtlMs: 2 }, http: { allowedHosts: ["x"] } };
    expect(restartOnlyChanges(a, b)).toEqual(["leader.node_ttl", "node.http_port"]);
  });

  test("an unchanged config restarts no plugin", async () => {
    const before = await plugins();
    expect(before.dns!.state).toBe("enabled");
    const out = await hup(readFileSync(p.configFile!, "utf8"), () => true);
    const after = await plugins();
    for (const name of ["probe", "discovery", "dns", "invoke"]) {
      expect({ name, reloads: after[name]!.reloads, since: after[name]!.since }).toEqual({ name, reloads: before[name]!.reloads, since: before[name]!.since });
    }
    expect(out).not.toContain("plugin disabled");
    expect(out).not.toContain("restart to apply");
  }, 30_000);

  test("a changed [plugins.dns] restarts dns alone; the invoke proxy keeps answering on its port", async () => {
    const port = invokePort();
    const before = await plugins();
    let refused = 0;
    let answered = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
          answered++;
        } catch {
          refused++;
        }
        await sleep(20);
      }
    })();
    const changed = readFileSync(p.configFile!, "utf8").replace("[plugins.dns]\nport = 0\n", "[plugins.dns]\nport = 0\nnode_ttl = \"5s\"\n");
    expect(changed).toContain(`node_ttl = "5s"`);
    await hup(changed, async () => (await plugins()).dns!.reloads === before.dns!.reloads + 1);
    await sleep(300);
    polling = false;
    await poll;
    const after = await plugins();
    expect(after.dns!.state).toBe("enabled");
    for (const name of ["probe", "discovery", "invoke"]) expect(after[name]!.since).toBe(before[name]!.since);
    expect(invokePort()).toBe(port);
    expect(answered).toBeGreaterThan(0);
    expect(refused).toBe(0);
  }, 30_000);

  test("a changed node-level key is logged as needing a restart (flags still win over the file)", async () => {
    const text = readFileSync(p.configFile!, "utf8");
    // --http-port on the command line overrides the file, so that one does not change; datacenter does.
    const out = await hup(`[node]\nhttp_port = ${p.port + 1}\ndatacenter = "dc9"\n\n${text}`, () => true);
    expect(out).toContain("node.datacenter changed: restart to apply");
    expect(out).not.toContain("node.http_port changed");
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);
    writeFileSync(p.configFile!, text);
  }, 30_000);

  test("a new plugins.dir is loaded; its plugin starts because plugins.enabled names it", async () => {
    expect((await plugins()).hello).toBeUndefined();
    const text = readFileSync(p.configFile!, "utf8").replace("[plugins]\n", `[plugins]\ndir = "${laterDir}"\n`);
    await hup(text, async () => (await plugins()).hello?.state === "enabled");
    const r = await getJson(`${p.url}/v1/hello`);
    expect(r.status).toBe(200);
    expect(r.body.greeting).toBe("hello world");
  }, 30_000);

  test("`corral plugins reload NAME` restarts that plugin with its table as the file has it now; a broken file is refused", async () => {
    const text = readFileSync(p.configFile!, "utf8");
    writeFileSync(p.configFile!, `${text}\n[plugins.hello]\nwho = "reloaded"\n`);
    const before = await plugins();
    const r = spawnSync(BUN, [ENTRY, "plugins", "reload", "hello"], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: p.url }, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect((await getJson(`${p.url}/v1/hello`)).body.greeting).toBe("hello reloaded");
    const after = await plugins();
    for (const name of ["probe", "discovery", "dns", "invoke"]) expect(after[name]!.since).toBe(before[name]!.since);

    writeFileSync(p.configFile!, "[plugins\nbroken");
    const bad = await getJson(`${p.url}/v1/plugins/hello/reload`, { method: "POST" });
    expect(bad.status).toBe(409);
    expect(bad.body.code).toBe("PLUGIN_CONFIG");
    expect(bad.body.error).toContain("config file refused");
    expect((await getJson(`${p.url}/v1/hello`)).body.greeting).toBe("hello reloaded");
    writeFileSync(p.configFile!, text);
  }, 30_000);

  test("a plugins.dir that does not exist is refused with a log line; the node serves on", async () => {
    // watch = true too: watching a folder that is not there must not take the node down either.
    const text = readFileSync(p.configFile!, "utf8").replace(/^dir = .*$/m, `dir = "${laterDir}-missing"`).replace("watch = false", "watch = true");
    expect(text).toContain("-missing");
    expect(text).toContain("watch = true");
    const out = await hup(text, async () => (await plugins()).hello === undefined);
    expect(out).toContain("plugins.dir refused");
    expect((await getJson(`${p.url}/v1/healthz`)).status).toBe(200);
    expect(p.child.exitCode).toBeNull();
    expect((await plugins()).dns!.state).toBe("enabled");
  }, 30_000);
});
