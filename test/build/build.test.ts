// End-to-end check of the release artifacts (build/build.ts): builds them,
// then runs each one as a real `corral dev` process and talks to its API.
//   - dist/corral copied ALONE into an empty folder: `version`, `dev`.
//   - node dist/corral.mjs dev        (better-sqlite3 from the repo's node_modules)
//   - deno run -A dist/corral.mjs dev (node:sqlite)
// The artifacts go to a private dist/.test-<pid>/ (inside the repo, so the
// Node bundle can resolve better-sqlite3) to not clobber a developer's dist/.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, ROOT } from "../../build/build.ts";
import { freePort, killAll, spawnNode, tool, type RunningNode } from "../../build/harness.ts";

const outdir = join(ROOT, "dist", `.test-${process.pid}`);
const binary = join(outdir, "corral");
const bundle = join(outdir, "corral.mjs");
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const tempDirs: string[] = [];

function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `corral-build-${tag}-`));
  tempDirs.push(d);
  return d;
}

beforeAll(async () => {
  const artifacts = await build({ outdir });
  for (const a of artifacts) expect(a.bytes).toBeGreaterThan(0);
}, 150_000);

afterAll(() => {
  killAll();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

interface NodeInfo {
  address: string;
  role: string;
  status: string;
}

/** Healthy, lists itself in /v1/nodes within a few seconds, stops cleanly on SIGTERM. */
async function exerciseDev(node: RunningNode, runtime: "bun" | "node" | "deno") {
  try {
    const ms = await node.waitHealthy(45_000, 20);
    const health = (await (await fetch(`${node.url}/v1/healthz`)).json()) as { ok: boolean; role: string; version: string };
    expect(health).toMatchObject({ ok: true, role: "dev", version: VERSION });

    let nodes: NodeInfo[] = [];
    const deadline = performance.now() + 15_000;
    while (performance.now() < deadline) {
      const res = await fetch(`${node.url}/v1/nodes`);
      if (res.status === 200) {
        nodes = (await res.json()) as NodeInfo[];
        if (nodes.some((n) => n.address === `127.0.0.1:${node.port}`)) break;
      }
      await Bun.sleep(200);
    }
    const self = nodes.find((n) => n.address === `127.0.0.1:${node.port}`);
    if (!self) throw new Error(`/v1/nodes never listed the dev node: ${JSON.stringify(nodes).slice(0, 500)}\n${node.output()}`);
    expect(self.role).toBe("dev");

    // The dashboard travels inside the artifact: the page, and the bundled assets it names.
    const html = await (await fetch(`${node.url}/ui`)).text();
    const assets = [...html.matchAll(/\/ui\/assets\/app\.[0-9a-f]+\.(?:js|css)/g)].map((m) => m[0]);
    expect(assets.length).toBe(2);
    for (const a of assets) {
      const res = await fetch(node.url + a);
      expect({ asset: a, status: res.status }).toEqual({ asset: a, status: 200 });
      expect((await res.text()).length).toBeGreaterThan(1_000);
    }

    const out = node.output();
    expect(out).toContain(`corral dev ready: API at http://127.0.0.1:${node.port}`);
    // The node reports which runtime (and so which SQLite driver) it is on.
    expect(out).toContain(`"runtime":"${runtime}"`);
    console.log(`  ${runtime}: healthy ${Math.round(ms)} ms after spawn`);
  } finally {
    const { code, graceful } = await node.stop(10_000);
    expect({ graceful, code }).toEqual({ graceful: true, code: 0 });
  }
}

describe("dist/corral (bun --compile)", () => {
  test("is alone in its folder and runs `version`", () => {
    const dir = tempDir("bin");
    copyFileSync(binary, join(dir, "corral"));
    Bun.spawnSync(["chmod", "+x", join(dir, "corral")]);
    expect(readdirSync(dir)).toEqual(["corral"]);
    // Nothing up the tree to borrow modules from.
    expect(existsSync(join(dir, "node_modules")) || existsSync(join(dir, "..", "node_modules"))).toBe(false);
    const r = Bun.spawnSync(["./corral", "version"], { cwd: dir, env: { ...process.env, NODE_PATH: "" } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString().trim()).toBe(`corral ${VERSION}`);
  }, 30_000);

  test("runs `dev` alone: healthz, nodes, SIGTERM", async () => {
    const dir = tempDir("bin-dev");
    copyFileSync(binary, join(dir, "corral"));
    Bun.spawnSync(["chmod", "+x", join(dir, "corral")]);
    const port = await freePort();
    const node = spawnNode(["./corral", "dev", "--data-dir", "./data", "--http-port", String(port)], {
      cwd: dir,
      port,
      env: { NODE_PATH: "" },
    });
    await exerciseDev(node, "bun");
    expect(existsSync(join(dir, "data"))).toBe(true);
  }, 90_000);
});

describe("dist/corral.mjs (esbuild)", () => {
  test("never imports better-sqlite3 statically", () => {
    const text = readFileSync(bundle, "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(text).not.toMatch(/from\s*["']better-sqlite3["']/);
    expect(text).not.toMatch(/import\s*\(\s*["']better-sqlite3["']\s*\)/);
    expect(text).not.toMatch(/from\s*["'](bun|node):sqlite["']/);
  });

  const node = tool("node");
  const nodeMajor = node ? Number(Bun.spawnSync([node, "-p", "process.versions.node.split('.')[0]"]).stdout.toString().trim()) : 0;
  test.skipIf(nodeMajor < 20)("runs `dev` under Node (better-sqlite3)", async () => {
    const dir = tempDir("node");
    const port = await freePort();
    const n = spawnNode([node!, "--enable-source-maps", bundle, "dev", "--data-dir", "./data", "--http-port", String(port)], {
      cwd: dir,
      port,
    });
    await exerciseDev(n, "node");
  }, 90_000);

  const deno = tool("deno");
  test.skipIf(!deno)("runs `dev` under Deno 2 (node:sqlite)", async () => {
    const dir = tempDir("deno");
    const port = await freePort();
    const n = spawnNode([deno!, "run", "-A", bundle, "dev", "--data-dir", "./data", "--http-port", String(port)], {
      cwd: dir,
      port,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    await exerciseDev(n, "deno");
  }, 90_000);
});
