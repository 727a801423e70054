// Exec (Args) checks: refused with a clear 400 while
// plugins.health.enable_exec_checks is off (the default), run when it is on:
// exit 0 passing, 1 warning, anything else critical, output captured and
// bounded, and a timeout kills the whole process group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, eventually, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { checkOf } from "./targets.ts";

let off: CorralProcess;
let on: CorralProcess;
beforeAll(async () => {
  [off, on] = await Promise.all([
    startCorral({ role: "dev" }),
    startCorral({ role: "dev", config: `[plugins.health]\nenable_exec_checks = true\nmin_interval = "50ms"\noutput_max_size = 64\n` }),
  ]);
});
afterAll(killAll);

const put = (base: string, path: string, body: unknown) => fetch(base + path, { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const sh = (script: string) => ["/bin/sh", "-c", script];
async function settled(service: string, id: string, want: string) {
  return eventually(async () => {
    const c = await checkOf(on.url, service, id);
    return c?.Status === want && c;
  }, 8_000, 50);
}

describe("exec checks off (the default)", () => {
  test("registering one is a 400 that names the key; so is a standalone one; ScriptArgs too", async () => {
    const bodies: [string, unknown][] = [
      ["/v1/agent/service/register", { Name: "x", Check: { Args: ["/bin/true"], Interval: "10s" } }],
      ["/v1/agent/service/register", { Name: "x", Checks: [{ TTL: "10s" }, { ScriptArgs: ["/bin/true"], Interval: "10s" }] }],
      ["/v1/agent/check/register", { Name: "x", Args: ["/bin/true"], Interval: "10s" }],
    ];
    for (const [path, body] of bodies) {
      const r = await put(off.url, path, body);
      expect(r.status).toBe(400);
      expect(await r.text()).toBe("script checks are disabled on this agent; to allow Args checks set plugins.health.enable_exec_checks = true");
    }
    expect(((await fetch(off.url + "/v1/agent/services").then((r) => r.json())) as any).x).toBeUndefined();
  });
});

describe("exec checks on", () => {
  test("exit 0 passing, 1 warning, 2 critical; stdout and stderr captured", async () => {
    const r = await put(on.url, "/v1/agent/service/register", {
      Name: "ex",
      Checks: [
        { CheckID: "ex0", Args: sh("echo fine"), Interval: "100ms" },
        { CheckID: "ex1", Args: sh("echo degraded >&2; exit 1"), Interval: "100ms" },
        { CheckID: "ex2", Args: sh("echo broken; exit 2"), Interval: "100ms", Status: "passing" },
      ],
    });
    expect(r.status).toBe(200);
    expect((await settled("ex", "ex0", "passing")).Output).toBe("fine\n");
    expect((await settled("ex", "ex1", "warning")).Output).toBe("degraded\n");
    expect((await settled("ex", "ex2", "critical")).Output).toBe("broken\n");
    // Consul's type name and definition for Args checks.
    const agent: any = await fetch(on.url + "/v1/agent/checks").then((x) => x.json());
    expect(agent.ex0).toMatchObject({ Type: "script", Definition: { ScriptArgs: sh("echo fine") } });
    await put(on.url, "/v1/agent/service/deregister/ex", undefined);
  }, 20_000);

  test("output is bounded (output_max_size); a command that is not there is critical", async () => {
    await put(on.url, "/v1/agent/service/register", {
      Name: "big",
      Checks: [
        { CheckID: "big", Args: sh("head -c 10000 /dev/zero | tr '\\0' a"), Interval: "100ms" },
        { CheckID: "none", Args: ["/nonexistent/check"], Interval: "100ms", Status: "passing" },
      ],
    });
    const big = await settled("big", "big", "passing");
    expect(big.Output).toBe(`Captured 64 of 10000 bytes\n...\n${"a".repeat(64)}`);
    expect((await settled("big", "none", "critical")).Output).toContain("/nonexistent/check");
    await put(on.url, "/v1/agent/service/deregister/big", undefined);
  }, 20_000);

  test("a timeout kills the process group, children included", async () => {
    const dir = tempDir();
    chmodSync(dir, 0o777); // a root agent runs the check as exec_check_user (nobody): it must be able to write here
    const pidFile = join(dir, "child.pid");
    await put(on.url, "/v1/agent/service/register", {
      Name: "hang",
      Check: { CheckID: "hang", Args: sh(`sleep 30 & echo $! > ${pidFile}; wait`), Interval: "5s", Timeout: "300ms", Status: "passing" },
    });
    const c = await settled("hang", "hang", "critical");
    expect(c.Output).toStartWith("Timed out (300ms) running check");
    expect(existsSync(pidFile)).toBe(true);
    const child = Number(readFileSync(pidFile, "utf8"));
    await eventually(() => {
      try {
        process.kill(child, 0);
        return false;
      } catch {
        return true; // ESRCH: the background sleep was killed with its group
      }
    }, 3_000, 50);
    await put(on.url, "/v1/agent/service/deregister/hang", undefined);
  }, 20_000);
});
