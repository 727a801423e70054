// An external plugin bundled with its own copy of the SDK throws ApiError of
// a class the node has never seen: its error must still reach the caller as
// that error (status and code), not as a plugin failure (500).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { builtinPlugins } from "../../core/plugins/builtin.ts";
import { pluginTestRoot } from "../helpers/plugin-root.ts";

const pluginDir = mkdtempSync(join(pluginTestRoot(), "plugins-"));
cpSync(join(ROOT, "test/fixtures/plugins-bundled/own-errors"), join(pluginDir, "own-errors"), { recursive: true });
copyFileSync(join(ROOT, "core/http/errors.ts"), join(pluginDir, "own-errors/sdk-errors.ts"));

let p: CorralProcess;
beforeAll(async () => {
  const enabled = [...builtinPlugins().map((m) => m.name), "own-errors"];
  p = await startCorral({ role: "dev", config: `[plugins]\ndir = "${pluginDir}"\nenabled = ${JSON.stringify(enabled)}\n` });
});
afterAll(async () => {
  await killAll();
  rmSync(pluginDir, { recursive: true, force: true });
});

test("an ApiError from a plugin's own SDK copy keeps its status and code", async () => {
  const r = await getJson(`${p.url}/v1/own-errors/nope`);
  expect(r.status).toBe(404);
  expect(r.body).toEqual({ error: "no greeting named nope", code: "NO_SUCH_GREETING" });
  // Not counted as a failure of the plugin.
  expect((await getJson(`${p.url}/v1/plugins/own-errors`)).body.state).toBe("enabled");
});
