// Garbage collection (issue 18 point 5) on a real dev node: with short
// thresholds the leader deletes a dead job with all it left, and a living
// job's stopped allocation and finished evaluations, while running ones and
// anything younger than its threshold stay; the agent removes a collected
// allocation's folder at once (the per-node deletion index); `corral system
// gc` (PUT /v1/system/gc) collects at once whatever the thresholds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { BUN, allocs, reapTasks, submit, waitRunning } from "./cluster-helpers.ts";

let dev: CorralProcess;
/** Long enough that "still there right after it ended" holds on a loaded machine, short enough for a test. */
const THRESHOLD_S = 8;

const task = (command: string, args: string[]) => ({ name: "t", command, args, resources: { cpu: 50, memory: 32 } });
const batchJob = (id: string) => ({ id, type: "batch", groups: [{ name: "g", count: 1, restart: { attempts: 0, mode: "fail" }, tasks: [task("/bin/true", [])] }] });
const serviceJob = (id: string) => ({ id, groups: [{ name: "g", count: 1, tasks: [task("/bin/sleep", ["600"])] }] });

const jobStatus = async (id: string) => (await getJson(`${dev.url}/v1/job/${id}`)).status === 200 ? (await getJson<any>(`${dev.url}/v1/job/${id}`)).body.status : "gone";

beforeAll(async () => {
  dev = await startCorral({
    role: "dev",
    config: [
      `[leader]\njob_gc_interval = "500ms"\njob_gc_threshold = "${THRESHOLD_S}s"\neval_gc_threshold = "${THRESHOLD_S}s"\ndeployment_gc_threshold = "${THRESHOLD_S}s"`,
      `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false`,
      `[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096`,
      `[plugins.exec]\nkill_timeout = "1s"`,
    ].join("\n\n") + "\n",
  });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 20_000);
}, 60_000);

afterAll(async () => {
  await killAll();
  reapTasks(dev.dataDir);
});

describe("garbage collection", () => {
  test("after the thresholds: a dead job goes with all it left, a living job's stopped allocation goes, running ones stay", async () => {
    await submit(dev.url, serviceJob("svc"));
    const [first] = await waitRunning(dev.url, "svc", 1, 30_000);
    await submit(dev.url, batchJob("done"));
    await eventually(async () => (await jobStatus("done")) === "dead", 30_000);
    const doneAllocs = await allocs(dev.url, "done");
    expect(doneAllocs.length).toBe(1);
    // A living job's allocation stopped: it is replaced, and the stopped one is terminal.
    const stop = await getJson(`${dev.url}/v1/allocation/${first.id}/stop`, { method: "PUT" });
    expect(stop.status).toBe(200);
    const [second] = await eventually(async () => {
      const list = await waitRunning(dev.url, "svc", 1, 30_000);
      return list[0].id !== first.id && list;
    }, 30_000);
    await eventually(async () => (await allocs(dev.url, "svc")).find((a) => a.id === first.id)?.clientStatus === "complete", 20_000);
    const firstDir = join(dev.dataDir, "exec", "allocs", first.id);
    // Younger than the thresholds: all still there (the collector has run several times by now).
    await Bun.sleep(1500);
    expect(await jobStatus("done")).toBe("dead");
    expect((await allocs(dev.url, "svc")).map((a) => a.id).sort()).toEqual([first.id, second.id].sort());

    // Past them: the dead job and everything of it go; the stopped allocation goes, its folder too (at once:
    // the agent's blocking query answers on the deletion); the running allocation and its job stay.
    await eventually(async () => (await jobStatus("done")) === "gone", THRESHOLD_S * 1000 + 20_000, 250);
    expect((await getJson<any[]>(`${dev.url}/v1/evaluations?job=done`)).body).toEqual([]);
    expect((await getJson(`${dev.url}/v1/allocation/${doneAllocs[0].id}`)).status).toBe(404);
    const goneAt = await eventually(async () => !(await allocs(dev.url, "svc")).some((a) => a.id === first.id) && Date.now(), THRESHOLD_S * 1000 + 20_000, 100);
    await eventually(() => !existsSync(firstDir), 5_000, 100);
    expect(Date.now() - goneAt).toBeLessThan(5_000);
    const left = await allocs(dev.url, "svc");
    expect(left.map((a) => [a.id, a.clientStatus])).toEqual([[second.id, "running"]]);
    expect(await jobStatus("svc")).toBe("running");
    // Its newest evaluation stays (it tells why the job is placed or not).
    expect((await getJson<any[]>(`${dev.url}/v1/evaluations?job=svc`)).body.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  test("corral system gc collects at once, whatever the thresholds; a running job stays", async () => {
    await submit(dev.url, batchJob("now"));
    await eventually(async () => (await jobStatus("now")) === "dead", 30_000);
    const cli = spawnSync(BUN, [ENTRY, "system", "gc", "--addr", dev.url], { cwd: ROOT, encoding: "utf8" });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^Collected [1-9]\d* jobs, \d+ evaluations, [1-9]\d* allocations, \d+ deployments, \d+ nodes, \d+ KV tombstones, \d+ catalog tombstones, \d+ variable tombstones\n$/);
    expect(await jobStatus("now")).toBe("gone");
    expect(await jobStatus("svc")).toBe("running");
    const again = await getJson(`${dev.url}/v1/system/gc`, { method: "PUT" });
    expect(again.status).toBe(200);
    // Nothing dead is left (an evaluation that finished in between may still go: its job's newer one now speaks for it).
    expect(again.body).toMatchObject({ jobs: 0, allocs: 0, deployments: 0 });
    expect(await jobStatus("svc")).toBe("running");
  }, 60_000);
});
