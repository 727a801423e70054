// One process per data dir: a second corral on the same data dir exits 2
// naming the first's pid, and after the first is killed -9 (no clean-up) a
// new one starts on the same dir (the OS dropped the lock with its holder).
import { afterAll, describe, expect, test } from "bun:test";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { killAll, startCorral, tempDir } from "../helpers/proc.ts";

afterAll(killAll);

describe("data dir lock", () => {
  test("a second process on the same data dir exits 2; after kill -9 of the first, a new one starts", async () => {
    const dataDir = join(realpathSync(tempDir()), "data");
    const first = await startCorral({ role: "dev", dataDir });

    const second = await startCorral({ role: "dev", dataDir, waitReady: false });
    expect(await second.exited).toBe(2);
    expect(second.output().trim()).toBe(`corral: data dir ${dataDir} is in use by pid ${first.child.pid}`);
    // The first is untouched: still serving as itself.
    const self = await (await fetch(first.url + "/v1/healthz")).json();
    expect(self).toBeTruthy();

    expect(await first.kill("SIGKILL")).toBe("SIGKILL");
    const third = await startCorral({ role: "dev", dataDir });
    expect(third.output()).not.toContain("in use");
    const status = await fetch(third.url + "/v1/healthz");
    expect(status.status).toBe(200);

    // And a clean stop lets the next one in too.
    expect(await third.kill("SIGTERM")).toBe(0);
    const fourth = await startCorral({ role: "dev", dataDir });
    expect((await fetch(fourth.url + "/v1/healthz")).status).toBe(200);
  }, 120_000);
});
