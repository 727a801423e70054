// Job versions with real processes: one leader, two agents. v0 runs; v1
// changes only the count (the running allocations stay: same ids, same
// pids, their job version moves); v2 changes the command (replaced);
// `job history` lists the three; `job revert web 0` makes v3 with v0's spec
// and its tasks run v0's command again; `job run --check-index` with a
// stale index is refused and changes nothing. (Versions count from 0, as
// in Nomad: the brief's "v1" is version 0.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRY, ROOT, eventually, getJson, killAll, sleep, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { BUN, alive, allocs, reapTasks, startAgent, startLeader, stopJob, submit, taskPid, type Agent } from "../jobs/cluster-helpers.ts";

let leader: CorralProcess;
let a: Agent;
let b: Agent;
let L: string;
const dir = tempDir("corral-versions-");

function spec(count: number, sleepArg: string) {
  return {
    id: "web", type: "service",
    groups: [{
      name: "web", count,
      update: { max_parallel: 3, min_healthy_time: "200ms", healthy_deadline: "1m" },
      tasks: [{ name: "srv", command: "/bin/sh", args: ["-c", `exec sleep ${sleepArg}`], resources: { cpu: 100, memory: 32 } }],
    }],
  };
}

function file(name: string, body: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(body));
  return f;
}

function cli(...args: string[]) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: L }, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** What a task process runs, from /proc (the real command line). */
function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
}

/** The live allocations once `n` of them run at job version `version`. */
async function liveAt(n: number, version: number, timeoutMs = 30_000): Promise<any[]> {
  return eventually(async () => {
    const live = (await allocs(L, "web")).filter((x) => x.desiredStatus === "run" && x.clientStatus !== "complete" && x.clientStatus !== "failed");
    return live.length === n && live.every((x) => x.jobVersion === version && x.clientStatus === "running" && taskPid(x, "srv")) && live;
  }, timeoutMs, 100);
}

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  a = await startAgent(leader, "agent-a");
  b = await startAgent(leader, "agent-b");
}, 60_000);

afterAll(async () => {
  await stopJob(L, "web").catch(() => {});
  await sleep(1500);
  await killAll();
  for (const ag of [a, b]) if (ag) reapTasks(ag.dataDir);
});

describe("job versions on a leader and two agents", () => {
  let v0: any[];
  let indexAfterV0 = 0;

  test("v0 runs; a plan of v1 (count only) shows the count diff, 2 in-place updates and 1 create, and the modify index", async () => {
    await submit(L, spec(2, "1001"));
    v0 = await liveAt(2, 0);
    const plan = await getJson(`${L}/v1/job/web/plan`, { method: "POST", body: JSON.stringify(spec(3, "1001")), headers: { "content-type": "application/json" } });
    expect(plan.status).toBe(200);
    const g = plan.body.diff.TaskGroups[0];
    expect(g.Fields).toEqual([{ Type: "Edited", Name: "Count", Old: "2", New: "3", Annotations: ["forces create"] }]);
    expect(g.Tasks).toEqual([]);
    expect(g.Updates).toEqual({ "in-place update": 2, create: 1 });
    const job = await getJson(`${L}/v1/job/web`);
    indexAfterV0 = plan.body.jobModifyIndex;
    expect(indexAfterV0).toBe(job.body.submitIndex);
    expect(indexAfterV0).toBeGreaterThan(0);
    // The CLI prints the same in Nomad's style, and the command to submit with the index.
    const out = cli("job", "plan", file("v1.json", spec(3, "1001")));
    expect(out.out).toContain('+/- Task Group: "web" (1 create, 2 in-place update)');
    expect(out.out).toContain('  +/- Count: "2" => "3" (forces create)');
    expect(out.out).toContain(`corral job run --check-index ${indexAfterV0} `);
  }, 60_000);

  test("v1 (count 2 → 3) with --check-index: the two allocations stay (same ids, same pids) and move to version 1", async () => {
    indexAfterV0 = (await getJson(`${L}/v1/job/web`)).body.submitIndex; // the plan's index (checked above), read anew so this test stands alone
    const r = cli("job", "run", "--detach", "--check-index", String(indexAfterV0), file("v1.json", spec(3, "1001")));
    expect(r.code).toBe(0);
    const live = await liveAt(3, 1);
    for (const old of v0) {
      const now = live.find((x) => x.id === old.id);
      expect(now).toBeDefined();
      expect(taskPid(now, "srv")).toBe(taskPid(old, "srv"));
      expect(alive(taskPid(old, "srv")!)).toBe(true);
    }
    expect(live.filter((x) => !v0.some((o) => o.id === x.id))).toHaveLength(1);
  }, 60_000);

  test("--check-index with the stale index is refused (409, exit 1) and changes nothing", async () => {
    const r = cli("job", "run", "--detach", "--check-index", String(indexAfterV0), file("v2.json", spec(3, "1002")));
    expect(r.code).toBe(1);
    expect(r.err + r.out).toContain(`Enforcing job modify index ${indexAfterV0}`);
    const api = await getJson(`${L}/v1/jobs?JobModifyIndex=${indexAfterV0}`, { method: "POST", body: JSON.stringify(spec(3, "1002")), headers: { "content-type": "application/json" } });
    expect(api.status).toBe(409);
    expect(api.body.code).toBe("INDEX_MISMATCH");
    const job = await getJson(`${L}/v1/job/web`);
    expect(job.body.version).toBe(1);
    // 0 means "must not exist".
    expect((await getJson(`${L}/v1/jobs?JobModifyIndex=0`, { method: "POST", body: JSON.stringify(spec(3, "1002")), headers: { "content-type": "application/json" } })).status).toBe(409);
  }, 30_000);

  test("v2 changes the command: every allocation is replaced and runs the new command", async () => {
    const before = (await allocs(L, "web")).filter((x) => x.desiredStatus === "run").map((x) => x.id);
    await submit(L, spec(3, "1002"));
    const live = await liveAt(3, 2, 45_000);
    expect(live.some((x) => before.includes(x.id))).toBe(false);
    for (const x of live) expect(cmdline(taskPid(x, "srv")!)).toContain("sleep 1002");
  }, 60_000);

  test("job history lists versions 2, 1, 0; -p shows what changed in each", async () => {
    const r = cli("job", "history", "web");
    expect(r.code).toBe(0);
    expect([...r.out.matchAll(/^Version\s+= (\d+)/gm)].map((m) => Number(m[1]))).toEqual([2, 1, 0]);
    const p = cli("job", "history", "web", "-p");
    expect(p.out).toContain('+/- Count: "2" => "3"');
    expect(p.out).toContain('+/- Task: "srv" (forces create/destroy update)');
    expect(p.out).toContain('+/- Args[1]: "exec sleep 1001" => "exec sleep 1002"');
    const api = await getJson(`${L}/v1/job/web/versions?diffs=true`);
    expect(api.body.Versions.map((v: any) => v.Version)).toEqual([2, 1, 0]);
    expect(api.body.Diffs).toHaveLength(2);
  }, 30_000);

  test("revert to the current version is a 400; job revert web 0 makes version 3 with v0's spec, running v0's command", async () => {
    const same = await getJson(`${L}/v1/job/web/revert`, { method: "POST", body: JSON.stringify({ JobVersion: 2 }), headers: { "content-type": "application/json" } });
    expect(same.status).toBe(400);
    expect(same.body.code).toBe("INVALID_REVERT");
    const stale = await getJson(`${L}/v1/job/web/revert`, { method: "POST", body: JSON.stringify({ JobVersion: 0, EnforcePriorVersion: 1 }), headers: { "content-type": "application/json" } });
    expect(stale.status).toBe(409);
    const r = cli("job", "revert", "web", "0");
    expect(r.code).toBe(0);
    expect(r.out).toContain("registered as version 3");
    const versions = await getJson(`${L}/v1/job/web/versions`);
    expect(versions.body.Versions[0].Version).toBe(3);
    expect(versions.body.Versions[0].Job).toEqual(versions.body.Versions.find((v: any) => v.Version === 0).Job);
    const live = await liveAt(2, 3, 45_000);
    for (const x of live) expect(cmdline(taskPid(x, "srv")!)).toContain("sleep 1001");
  }, 90_000);
});
