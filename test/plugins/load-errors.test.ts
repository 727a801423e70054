// External plugins that do not load say where: file, line and column in the
// log, in `corral plugins list` and in /v1/plugins (what the dashboard's
// plugins page shows); the node starts and its ready line names them. A
// handler that throws once costs one 500, not the plugin; a rate of failures
// disables it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, eventually, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";
import { pluginTestRoot } from "../helpers/plugin-root.ts";

// A folder corral trusts, where bare imports in the fixtures resolve (test/helpers/plugin-root.ts).
const tmpRoot = pluginTestRoot();
const pluginDir = mkdtempSync(join(tmpRoot, "plugins-load-"));
cpSync(join(ROOT, "test/fixtures/plugins/hello.ts"), join(pluginDir, "hello.ts"));
cpSync(join(ROOT, "test/fixtures/plugins/broken-handler.ts"), join(pluginDir, "broken-handler.ts"));
const SYNTAX = join(pluginDir, "syntax.ts");
// Line 5, column 2: the ";" where "}" belongs.
writeFileSync(SYNTAX, `export default {\n  name: "syntax",\n  version: "1",\n  setup() { return { stop() {} }\n};\n`);
const THROWER = join(pluginDir, "thrower.ts");
// Line 3: the throw while the module runs (Bun names column 17, where `Error` is).
writeFileSync(THROWER, `const ok = 1;\nif (ok) {\n      throw new Error("boom while loading");\n}\nexport default {};\n`);

let p: CorralProcess;

beforeAll(async () => {
  const enabled = [...builtinPlugins().map((m) => m.name), "hello", "broken-handler", "syntax", "thrower"];
  p = await startCorral({ role: "dev", config: `[plugins]\ndir = "${pluginDir}"\nenabled = ${JSON.stringify(enabled)}\n` });
  await eventually(() => p.output().includes("corral dev ready"), 10_000);
});
afterAll(async () => {
  await killAll();
  rmSync(pluginDir, { recursive: true, force: true });
});

function logLines(msg: string): Array<Record<string, any>> {
  return p.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((l) => l.msg === msg);
}

describe("external plugin load errors", () => {
  test("the node starts; the ready line names the failed plugins", () => {
    const ready = p.output().split("\n").find((l) => l.startsWith("corral dev ready"))!;
    expect(ready).toContain("plugins failed: syntax, thrower (see corral plugins list)");
    expect(logLines("plugin enabled").map((l) => l.plugin)).not.toContain("syntax");
  });

  test("a syntax error: logged, listed and served with file:line:column", async () => {
    const log = logLines("plugin failed to load").find((l) => l.path === SYNTAX)!;
    expect(log).toMatchObject({ level: "error", file: SYNTAX, line: 5, column: 2 });
    expect(log.error).toContain('Expected "}"');
    const info = (await getJson(`${p.url}/v1/plugins/syntax`)).body;
    expect(info.state).toBe("failed");
    expect(info.error).toStartWith(`${SYNTAX}:5:2: Expected "}"`);
  });

  test("a throw while loading: the frame in the plugin's file", async () => {
    const log = logLines("plugin failed to load").find((l) => l.path === THROWER)!;
    expect(log).toMatchObject({ file: THROWER, line: 3, column: 17, error: "boom while loading" });
    const info = (await getJson(`${p.url}/v1/plugins/thrower`)).body;
    expect(info.error).toBe(`${THROWER}:3:17: boom while loading`);
  });

  test("corral plugins list shows the place", () => {
    const r = spawnSync(BUN, [ENTRY, "plugins", "list"], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: p.url }, encoding: "utf8", timeout: 30_000 });
    expect(r.stdout).toContain(`${SYNTAX}:5:2: Expected "}"`);
    expect(r.stdout).toContain(`${THROWER}:3:17: boom while loading`);
  });

  test("a broken edit of a running plugin logs the place too", async () => {
    const file = join(pluginDir, "hello.ts");
    const good = readFileSync(file, "utf8");
    const lines = good.split("\n").length;
    writeFileSync(file, good + "\nconst broken = (;\n");
    const log = await eventually(() => logLines("plugin failed to load").find((l) => l.path === file), 5_000);
    expect(log.line).toBe(lines + 1);
    expect(log.column).toBeGreaterThan(0);
    expect((await getJson(`${p.url}/v1/plugins/hello`)).body.error).toStartWith(`${file}:${lines + 1}:`);
    writeFileSync(file, good);
    await eventually(async () => (await getJson(`${p.url}/v1/hello`)).status === 200, 5_000);
  });
});

describe("request failures", () => {
  test("one throwing request is a 500, the plugin stays; ten within a minute disable it", async () => {
    const first = await getJson(`${p.url}/v1/broken`);
    expect(first.status).toBe(500);
    expect(first.body).toMatchObject({ code: "PLUGIN_FAILED", error: "plugin broken-handler failed: boom in handler" });
    expect((await getJson(`${p.url}/v1/plugins/broken-handler`)).body.state).toBe("enabled");
    for (let i = 2; i <= 9; i++) expect((await getJson(`${p.url}/v1/broken`)).status).toBe(500);
    expect((await getJson(`${p.url}/v1/plugins/broken-handler`)).body.state).toBe("enabled");
    expect(logLines("plugin request failed").length).toBe(9);

    expect((await getJson(`${p.url}/v1/broken`)).status).toBe(500); // the tenth
    const info = await eventually(async () => {
      const b = (await getJson(`${p.url}/v1/plugins/broken-handler`)).body;
      return b.state === "failed" && b;
    }, 5_000);
    expect(info.error).toBe("10 requests failed within 60s; the last: boom in handler");
    expect((await getJson(`${p.url}/v1/broken`)).status).toBe(404);
    expect((await getJson(`${p.url}/v1/hello`)).status).toBe(200);
  });
});
