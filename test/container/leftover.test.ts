// Before each start the driver clears a container of the task's id that an
// earlier runtime left behind (runc killed hard), but only when the runtime
// has state for that id: a fresh allocation's start makes no synchronous
// runtime call (it blocked the agent 10–280 ms per start on a busy node,
// bench/container.ts). The runtime here is a script that logs its calls.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerDriver } from "../../plugins/container/driver.ts";
import { cleanup, tempDir } from "../helpers/proc.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function driverWithLoggingRuntime() {
  const dir = tempDir("corral-ctr-leftover-");
  dirs.push(dir);
  const calls = join(dir, "calls.log");
  const runtime = join(dir, "fake-runc");
  writeFileSync(runtime, `#!/bin/sh\necho "$*" >> ${calls}\n`);
  chmodSync(runtime, 0o755);
  const log = { debug() {}, info() {}, warn() {}, error() {} } as any;
  const drv = new ContainerDriver({
    dir: join(dir, "c"), runtime: { path: runtime, name: "runc", version: "1" }, auth: {}, insecureRegistries: [], allowedRegistries: [],
    cacheBytes: 1 << 30, imagesBytes: 1 << 30, maxUnpackedBytes: 1 << 30, pullTimeoutMs: 1000, log, listenHost: "127.0.0.1",
  });
  return { drv, state: join(dir, "c", "state"), calls: () => (existsSync(calls) ? readFileSync(calls, "utf8") : "") };
}

describe("clearing a leftover container before a start", () => {
  test("no runtime state for the task's container: the runtime is not called", () => {
    const { drv, calls } = driverWithLoggingRuntime();
    drv.clearLeftover({ allocId: "a1", task: "t" });
    expect(calls()).toBe("");
  });

  test("state left for that id: the runtime deletes it by force", () => {
    const { drv, state, calls } = driverWithLoggingRuntime();
    mkdirSync(join(state, "corral-a2-t"), { recursive: true });
    drv.clearLeftover({ allocId: "a2", task: "t" });
    expect(calls()).toBe(`--root ${state} delete --force corral-a2-t\n`);
  });
});
