// `corral job init` (issue 15, point 9): the example it writes runs
// unchanged on the dev node `npm start` starts (`corral dev`, no config
// file), is registered as service "hello" with a passing HTTP check, and
// answers through the invoke proxy and the API's invoke route.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, eventually, freePort, getJson, tempDir } from "../helpers/proc.ts";
import { parseJobSpec } from "../../core/scheduler/index.ts";
import { reapTasks } from "./cluster-helpers.ts";
import { applyDevDefaults } from "../../core/cli/dev-defaults.ts";

const dir = tempDir("corral-job-init-");
const dataDir = join(dir, "data");
let dev: ChildProcess;
let url: string;
let proxyPort: number;
let output = "";

beforeAll(async () => {
  const port = await freePort();
  proxyPort = await freePort();
  url = `http://127.0.0.1:${port}`;
  // As `npm start` does (`corral dev`), with no --config: only ports and the data dir chosen for the test.
  dev = spawn(BUN, [ENTRY, "dev", "--http-port", String(port), "--data-dir", dataDir, "--dns-port", "0", "--invoke-port", String(proxyPort)], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  dev.stdout!.on("data", (d) => (output += d));
  dev.stderr!.on("data", (d) => (output += d));
  await eventually(async () => (await fetch(`${url}/v1/healthz`).catch(() => null))?.ok, 20_000);
}, 30_000);

afterAll(async () => {
  await getJson(`${url}/v1/job/hello?purge`, { method: "DELETE" }).catch(() => {});
  await Bun.sleep(1500);
  dev?.kill("SIGKILL");
  reapTasks(dataDir);
});

const cli = (args: string[]) => spawnSync(BUN, [ENTRY, ...args, ...(args[0] === "job" && args[1] !== "init" ? ["--addr", url] : [])], { cwd: dir, encoding: "utf8", timeout: 120_000 });

describe("corral job init", () => {
  test("writes example.toml, refuses to overwrite it; --short is the same job without comments", () => {
    const r = cli(["job", "init"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Example job written to example.toml");
    const long = readFileSync(join(dir, "example.toml"), "utf8");
    expect(long).toContain("# A first job");
    const again = cli(["job", "init"]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("example.toml already exists");
    expect(cli(["job", "init", "--short", "short.toml"]).status).toBe(0);
    const short = readFileSync(join(dir, "short.toml"), "utf8");
    expect(short).not.toContain("#");
    const a = parseJobSpec(long, "toml");
    const b = parseJobSpec(short, "toml");
    expect(a.ok).toBe(true);
    expect(b).toEqual(a);
  });

  test("the dev node says it allows raw tasks", () => {
    expect(output).toContain("raw tasks are allowed");
  });

  test("the example runs as written: healthy, in the catalog, reachable through the invoke proxy", async () => {
    expect(existsSync(join(dir, "example.toml"))).toBe(true);
    const run = cli(["job", "run", "example.toml"]);
    expect({ status: run.status, out: run.stdout, err: run.stderr }).toMatchObject({ status: 0, out: expect.stringContaining("Deployment successful: 2 allocation(s) healthy") });
    const passing = (await getJson(`${url}/v1/health/service/hello?passing`)).body;
    expect(passing).toHaveLength(2);
    const viaProxy = await (await fetch(`http://127.0.0.1:${proxyPort}/`, { headers: { host: "hello" } })).text();
    expect(viaProxy).toMatch(/^hello from hello copy [01]\n$/);
    const viaApi = await (await fetch(`${url}/v1/invoke/hello/`)).text();
    expect(viaApi).toMatch(/^hello from hello copy [01]\n$/);
  }, 150_000);
});

describe("what a dev node allows (core/cli/dev-defaults.ts)", () => {
  const config = (bind: string, exec?: Record<string, unknown>) => {
    const settings: Record<string, Record<string, unknown>> = exec ? { exec } : {};
    return { node: { bind } as any, plugins: { dir: "", enabled: [] as string[], watch: false, settings } };
  };
  test("raw tasks only for `corral dev` with no config file, on loopback", () => {
    expect(applyDevDefaults(config("127.0.0.1"), "dev", undefined).plugins.settings.exec).toEqual({ allow_raw: true });
    expect(applyDevDefaults(config("::1"), "dev", undefined).plugins.settings.exec).toEqual({ allow_raw: true });
    expect(applyDevDefaults(config("127.0.0.1"), "dev", "corral.toml").plugins.settings.exec).toBeUndefined();
    expect(applyDevDefaults(config("0.0.0.0"), "dev", undefined).plugins.settings.exec).toBeUndefined();
    expect(applyDevDefaults(config("127.0.0.1"), "agent", undefined).plugins.settings.exec).toBeUndefined();
    expect(applyDevDefaults(config("127.0.0.1", { allow_raw: false }), "dev", undefined).plugins.settings.exec).toEqual({ allow_raw: false });
  });
});
