// Canary deployments with real processes (1 leader + 2 agents): a canary
// placed beside the old allocations and promoted (the old ones run
// untouched until then; afterwards everything is the new version), a canary
// that never gets healthy (promotion refused with a 400), failed by hand
// (it stops, the old allocations keep their very pids, auto_revert rolls the
// job back), and blue/green with auto_promote. The CLI shows the deployment.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, getJson, eventually, tempDir, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { BUN, alive, allocs, httpJob, reapTasks, startAgent, startLeader, submit, taskPid, waitRunning, type Agent } from "./cluster-helpers.ts";

let leader: CorralProcess;
let agents: Agent[] = [];
let L = "";

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  agents = [await startAgent(leader, "c1"), await startAgent(leader, "c2")];
}, 60_000);

afterAll(async () => {
  for (const j of ["promo", "failing", "autofail", "bluegreen"]) await getJson(`${L}/v1/job/${j}?purge`, { method: "DELETE" }).catch(() => {});
  await Bun.sleep(1500);
  await killAll();
  for (const a of agents) reapTasks(a.dataDir);
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: L } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** A two-instance HTTP service; `version` goes into the env, so changing it is a destructive update. */
function job(id: string, version: string, update: Record<string, unknown> = {}, args?: string[]) {
  const j = httpJob(id, { count: 2, cpu: 100, memory: 100 });
  const g = j.groups[0]! as any;
  g.update = { ...g.update, max_parallel: 1, ...update };
  g.tasks[0].env = { VERSION: version };
  if (args) g.tasks[0].args = args;
  return j;
}

const deployments = async (id: string) => (await getJson<any[]>(`${L}/v1/job/${id}/deployments`)).body;
const live = async (id: string) => (await allocs(L, id)).filter((a) => a.desiredStatus === "run");
const pidsOf = (list: any[]) => list.map((a) => taskPid(a, "srv")!).sort();

async function firstVersion(id: string): Promise<any[]> {
  await submit(L, job(id, "0"));
  const old = await waitRunning(L, id, 2, 30_000);
  // 60 s: under the sharded suite's load the first rollout's health checks took past 30 s once.
  await eventually(async () => (await deployments(id))[0]?.Status === "successful", 60_000);
  return old;
}

describe("canary deployments", () => {
  test("a canary runs beside the old allocations; after promotion every allocation is the new version", async () => {
    const old = await firstVersion("promo");
    const oldPids = pidsOf(old);
    expect(oldPids.every(alive)).toBe(true);

    // `job run` follows the rollout until the canary is healthy and waits for a promotion, then says how to go on.
    const file = join(tempDir(), "promo.json");
    writeFileSync(file, JSON.stringify(job("promo", "1", { canary: 1 })));
    const run = await cli(["job", "run", file, "--timeout", "60s"]);
    expect([run.code, run.err]).toEqual([0, ""]);
    expect(run.out).toMatch(/Canaries of web are healthy; the deployment waits for promotion: corral deployment promote [0-9a-f]{8}/);
    // Three run at once: the two old ones and the canary of version 1.
    const three = await waitRunning(L, "promo", 3, 30_000);
    expect(three.filter((a) => a.jobVersion === 1).length).toBe(1);
    const dep = await eventually(async () => {
      const d = (await deployments("promo"))[0];
      return d?.JobVersion === 1 && d.TaskGroups.web.HealthyAllocs === 1 && d;
    }, 30_000);
    expect(dep.Status).toBe("running");
    expect(dep.TaskGroups.web).toMatchObject({ DesiredCanaries: 1, Promoted: false, DesiredTotal: 2 });
    expect(dep.TaskGroups.web.PlacedCanaries).toHaveLength(1);
    // Nothing old was replaced while the canary waits, however long it waits.
    await Bun.sleep(1500);
    expect(pidsOf((await live("promo")).filter((a) => a.jobVersion === 0))).toEqual(oldPids);
    expect(oldPids.every(alive)).toBe(true);
    expect((await deployments("promo"))[0].Status).toBe("running");

    const st = await cli(["job", "status", "promo"]);
    expect(st.code).toBe(0);
    expect(st.out).toContain("canaries 1/1 placed, 1 healthy, promoted: false");
    const ds = await cli(["deployment", "status", dep.ID.slice(0, 8)]);
    expect(ds.out).toContain(`ID          = ${dep.ID}`);
    expect(ds.out).toMatch(/web\s+false\s+2\s+1\/1/);
    const list = await cli(["deployment", "list"]);
    expect(list.out).toContain(dep.ID.slice(0, 8));
    // An agent hands the reads to the leader: the same answer through either.
    const viaAgent = await getJson(`http://127.0.0.1:${agents[0]!.port}/v1/deployment/${dep.ID}`);
    expect([viaAgent.status, viaAgent.body.ID, viaAgent.body.TaskGroups.web.PlacedCanaries]).toEqual([200, dep.ID, dep.TaskGroups.web.PlacedCanaries]);

    const pr = await cli(["deployment", "promote", dep.ID.slice(0, 8)]);
    expect(pr.code).toBe(0);
    expect(pr.out).toContain("promoted (web)");
    await eventually(async () => (await deployments("promo"))[0]?.Status === "successful", 45_000);
    const after = await live("promo");
    expect(after.length).toBe(2);
    expect(after.every((a) => a.jobVersion === 1 && a.clientStatus === "running")).toBe(true);
    // The canary stayed: it took over an index, it was not replaced.
    expect(after.map((a) => a.id)).toContain(dep.TaskGroups.web.PlacedCanaries[0]);
    await eventually(() => oldPids.every((p) => !alive(p)), 15_000);
    // A second promotion of a finished deployment is a clear 400.
    const again = await getJson(`${L}/v1/deployment/promote/${dep.ID}`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("DEPLOYMENT_NOT_RUNNING");
  }, 180_000);

  test("an unhealthy canary cannot be promoted; failing the deployment stops it and leaves the old allocations as they were", async () => {
    const old = await firstVersion("failing");
    const oldIds = old.map((a) => a.id).sort();
    const oldPids = pidsOf(old);
    // Version 1 runs but never listens: its check stays critical.
    const quiet = ["-e", "setInterval(() => {}, 1000)"];
    await submit(L, job("failing", "1", { canary: 1, auto_revert: true, healthy_deadline: "5m" }, quiet));
    const canary = await eventually(async () => (await live("failing")).find((a) => a.jobVersion === 1 && a.clientStatus === "running"), 30_000);
    const dep = (await deployments("failing"))[0];
    expect(dep.TaskGroups.web.PlacedCanaries).toEqual([canary.id]);

    const refused = await getJson(`${L}/v1/deployment/promote/${dep.ID}`, { method: "POST", body: JSON.stringify({ All: true }), headers: { "content-type": "application/json" } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: "CANARIES_NOT_HEALTHY" });
    expect(refused.body.error).toContain("0/1 healthy");
    const cliRefused = await cli(["deployment", "promote", dep.ID, "-group", "web"]);
    expect(cliRefused.code).not.toBe(0);
    expect(cliRefused.err + cliRefused.out).toContain("0/1 healthy");
    const unknownGroup = await cli(["deployment", "promote", dep.ID, "-group", "nope"]);
    expect([unknownGroup.code, unknownGroup.err]).toEqual([1, expect.stringContaining(`deployment has no task group "nope"`)]);

    const failed = await cli(["deployment", "fail", dep.ID]);
    expect(failed.code).toBe(0);
    expect(failed.out).toContain("reverts to version 0");
    // The canary stops; auto_revert registers version 0's spec again (version 2).
    await eventually(async () => (await allocs(L, "failing")).find((a) => a.id === canary.id)?.desiredStatus === "stop", 20_000);
    const canaryPid = taskPid(canary, "srv");
    if (canaryPid) await eventually(() => !alive(canaryPid), 15_000);
    const j = await eventually(async () => {
      const body = (await getJson(`${L}/v1/job/failing`)).body;
      return body.version === 2 && body;
    }, 15_000);
    expect(j.spec.groups[0].tasks[0].env.VERSION).toBe("0");
    expect((await deployments("failing")).find((d: any) => d.ID === dep.ID).Status).toBe("failed");
    await Bun.sleep(1500);
    const now = await live("failing");
    expect(now.map((a) => a.id).sort()).toEqual(oldIds);
    expect(pidsOf(now)).toEqual(oldPids);
    expect(oldPids.every(alive)).toBe(true);
  }, 180_000);

  test("a canary that misses its healthy_deadline fails the deployment by itself; without auto_revert the job stays, the old allocations run on", async () => {
    const old = await firstVersion("autofail");
    const oldPids = pidsOf(old);
    await submit(L, job("autofail", "1", { canary: 1, min_healthy_time: "500ms", healthy_deadline: "3s" }, ["-e", "setInterval(() => {}, 1000)"]));
    const dep = await eventually(async () => {
      const d = (await deployments("autofail"))[0];
      return d?.JobVersion === 1 && d.Status === "failed" && d;
    }, 45_000);
    const canaryId = dep.TaskGroups.web.PlacedCanaries[0];
    await eventually(async () => (await allocs(L, "autofail")).find((a) => a.id === canaryId)?.desiredStatus === "stop", 20_000);
    await Bun.sleep(1500);
    const now = await live("autofail");
    expect(now.map((a) => a.id).sort()).toEqual(old.map((a) => a.id).sort());
    expect(pidsOf(now)).toEqual(oldPids);
    expect((await getJson(`${L}/v1/job/autofail`)).body.version).toBe(1);
  }, 180_000);

  test("blue/green: canary = count places a full new set beside the old one; auto_promote swaps them once healthy", async () => {
    const old = await firstVersion("bluegreen");
    const oldPids = pidsOf(old);
    await submit(L, job("bluegreen", "1", { canary: 2, auto_promote: true }));
    await waitRunning(L, "bluegreen", 4, 30_000);
    await eventually(async () => (await deployments("bluegreen"))[0]?.Status === "successful", 45_000);
    const d = (await deployments("bluegreen"))[0];
    expect(d.TaskGroups.web).toMatchObject({ DesiredCanaries: 2, Promoted: true, AutoPromote: true });
    const after = await live("bluegreen");
    expect(after.map((a) => a.id).sort()).toEqual([...d.TaskGroups.web.PlacedCanaries].sort());
    expect(after.every((a) => a.jobVersion === 1)).toBe(true);
    await eventually(() => oldPids.every((p) => !alive(p)), 15_000);
  }, 180_000);
});
