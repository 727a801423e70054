// In-place updates as the agents see them, with real processes (one
// leader, two agents):
// - a constraint change that one node no longer satisfies replaces the
//   allocation there on the other node; the allocation on the node that
//   still fits keeps its id and its process (Nomad re-checks the node of an
//   in-place update);
// - a restart policy changed in place reaches the agent running the task
//   without restarting it: killing the task afterwards follows the new
//   policy (restarted instead of failing the allocation).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRY, ROOT, tempDir, eventually, getJson, killAll, sleep, type CorralProcess } from "../helpers/proc.ts";
import { BUN, alive, allocs, reapTasks, startAgent, startLeader, stopJob, submit, taskPid, type Agent } from "../jobs/cluster-helpers.ts";

let leader: CorralProcess;
let a: Agent;
let b: Agent;
let L: string;
const started = Date.now();

function cli(...args: string[]) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: L }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const live = async (job: string) => (await allocs(L, job)).filter((x) => x.desiredStatus === "run" && x.clientStatus !== "complete" && x.clientStatus !== "failed");

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  a = await startAgent(leader, "agent-a");
  b = await startAgent(leader, "agent-b");
}, 60_000);

afterAll(async () => {
  for (const j of ["spread", "pol", "can"]) await stopJob(L, j).catch(() => {});
  await sleep(1500);
  await killAll();
  for (const ag of [a, b]) if (ag) reapTasks(ag.dataDir);
});

describe("in-place updates on a leader and two agents", () => {
  test("a constraint one node no longer satisfies: its allocation moves to the other node, the other keeps its pid", async () => {
    const spec = (constraints: unknown[]) => ({
      id: "spread", type: "service",
      groups: [{
        name: "g", count: 2, constraints,
        update: { max_parallel: 1, min_healthy_time: "200ms", healthy_deadline: "1m" },
        tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "exec sleep 1011"], resources: { cpu: 100, memory: 32 } }],
      }],
    });
    await submit(L, spec([{ operator: "distinct_hosts", value: "true" }]));
    const v0 = await eventually(async () => {
      const l = await live("spread");
      return l.length === 2 && l.every((x) => x.clientStatus === "running" && taskPid(x, "t")) && new Set(l.map((x) => x.nodeId)).size === 2 && l;
    }, 30_000, 100);
    const onA = v0.find((x: any) => x.nodeId === a.nodeId)!;
    const onB = v0.find((x: any) => x.nodeId === b.nodeId)!;
    await submit(L, spec([{ attribute: "${node.unique.name}", value: "agent-a" }]));
    const v1 = await eventually(async () => {
      const l = await live("spread");
      return l.length === 2 && l.every((x) => x.jobVersion === 1 && x.clientStatus === "running" && taskPid(x, "t")) && l;
    }, 45_000, 100);
    expect(v1.every((x: any) => x.nodeId === a.nodeId)).toBe(true);
    const kept = v1.find((x: any) => x.id === onA.id);
    expect(kept).toBeDefined();
    expect(taskPid(kept, "t")).toBe(taskPid(onA, "t"));
    expect(alive(taskPid(onA, "t")!)).toBe(true);
    const moved = v1.find((x: any) => x.id !== onA.id);
    expect(moved.previousAlloc).toBe(onB.id);
    const old = (await allocs(L, "spread")).find((x) => x.id === onB.id);
    expect(old.desiredStatus).toBe("stop");
    expect(old.desiredDescription).toContain("no longer satisfies");
    await eventually(async () => !alive(taskPid(onB, "t")!), 15_000, 100);
  }, 120_000);

  test("restart.attempts raised in place: the running task is not restarted, and a kill afterwards restarts it instead of failing", async () => {
    const spec = (attempts: number) => ({
      id: "pol", type: "service",
      groups: [{
        name: "g", count: 1, constraints: [{ attribute: "${node.unique.name}", value: "agent-b" }],
        restart: { attempts, delay: "100ms", interval: "10m", mode: "fail" },
        update: { max_parallel: 1, min_healthy_time: "200ms", healthy_deadline: "1m" },
        tasks: [{ name: "t", command: "/bin/sh", args: ["-c", "exec sleep 1012"], resources: { cpu: 100, memory: 32 } }],
      }],
    });
    await submit(L, spec(0));
    const [v0] = await eventually(async () => {
      const l = await live("pol");
      return l.length === 1 && l[0].clientStatus === "running" && taskPid(l[0], "t") !== undefined && l;
    }, 30_000, 100);
    const pid = taskPid(v0, "t")!;
    await submit(L, spec(3));
    await eventually(async () => (await live("pol"))[0]?.jobVersion === 1, 20_000, 100);
    // The agent takes the new policy from its next allocation listing; give it that moment.
    await sleep(1000);
    const same = (await live("pol"))[0];
    expect(same.id).toBe(v0.id);
    expect(taskPid(same, "t")).toBe(pid);
    expect(same.taskStates.t.restarts).toBe(0);
    process.kill(pid, "SIGKILL");
    // Under the old policy (attempts = 0, mode fail) this kill would fail the allocation.
    const after = await eventually(async () => {
      const x = (await allocs(L, "pol")).find((y) => y.id === v0.id);
      return (x.clientStatus === "failed" || (x.taskStates.t.restarts >= 1 && x.clientStatus === "running" && taskPid(x, "t") !== pid)) && x;
    }, 20_000, 100);
    expect(after.clientStatus).toBe("running");
    expect(after.taskStates.t.restarts).toBe(1);
    expect(alive(taskPid(after, "t")!)).toBe(true);
  }, 120_000);

  test("job history shows each version's Submit Date (RFC 3339, UTC), as Nomad does; the API has SubmittedAt", async () => {
    const r = cli("job", "history", "pol");
    expect(r.code).toBe(0);
    const dates = [...r.out.matchAll(/^Submit Date = (\S+)$/gm)].map((m) => m[1]!);
    expect(dates).toHaveLength(2);
    for (const d of dates) {
      expect(d).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(Date.parse(d)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
      expect(Date.parse(d)).toBeLessThanOrEqual(Date.now());
    }
    expect(Date.parse(dates[0]!)).toBeGreaterThanOrEqual(Date.parse(dates[1]!)); // newest first
    const api = await getJson(`${L}/v1/job/pol/versions`);
    expect(api.body.Versions.map((v: any) => new Date(v.SubmittedAt).toISOString().replace(/\.\d{3}Z$/, "Z"))).toEqual(dates);
  }, 60_000);

  test("job plan marks canary placements as canaries and the allocations that wait for promotion as ignored, as Nomad does", async () => {
    const spec = (sleepArg: string) => ({
      id: "can", type: "service",
      groups: [{
        name: "web", count: 2,
        update: { max_parallel: 1, canary: 1, min_healthy_time: "200ms", healthy_deadline: "1m" },
        tasks: [{ name: "t", command: "/bin/sh", args: ["-c", `exec sleep ${sleepArg}`], resources: { cpu: 100, memory: 32 } }],
      }],
    });
    await submit(L, spec("1013"));
    await eventually(async () => {
      const l = await live("can");
      return l.length === 2 && l.every((x) => x.clientStatus === "running") && l;
    }, 30_000, 100);
    const f = join(tempDir(), "can.json");
    writeFileSync(f, JSON.stringify(spec("1014")));
    const r = cli("job", "plan", f);
    expect(r.out).toContain('+/- Task Group: "web" (1 canary, 2 ignore)');
    const api = await getJson(`${L}/v1/job/can/plan`, { method: "POST", body: JSON.stringify(spec("1014")), headers: { "content-type": "application/json" } });
    expect(api.body.annotations.groups.web).toEqual({ canary: 1, ignore: 2 });
    // Submitted: the canary runs beside the two old ones; planning the same version again still says they wait.
    await submit(L, spec("1014"));
    await eventually(async () => (await live("can")).length === 3, 30_000, 100);
    const again = await getJson(`${L}/v1/job/can/plan`, { method: "POST", body: JSON.stringify(spec("1014")), headers: { "content-type": "application/json" } });
    expect(again.body.annotations.groups.web).toEqual({ ignore: 3 });
  }, 120_000);
});
