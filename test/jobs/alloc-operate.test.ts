// Operating allocations with real processes (one leader, two agents), through
// the CLI as an operator types it: `alloc restart` (same allocation, new
// process), `alloc signal` (the task traps SIGUSR1 and writes a line),
// `alloc stop` (a replacement is placed), `job restart --batch-size 1`
// (never both allocations down at once, seen in the tasks' own log lines).
// Requests go to a node that does not run the allocation: it is passed on.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, ROOT, eventually, getJson, killAll, sleep, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { alive, allocs, reapTasks, startAgent, startLeader, stopJob, submit, taskPid, waitRunning, type Agent } from "./cluster-helpers.ts";

let leader: CorralProcess;
let a: Agent;
let b: Agent;
let L: string;
let shared: string;

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  a = await startAgent(leader, "agent-op-a");
  b = await startAgent(leader, "agent-op-b");
  shared = tempDir("corral-operate-");
  chmodSync(shared, 0o777); // tasks run as nobody
}, 60_000);

afterAll(async () => {
  for (const j of ["op", "gone", "roll"]) await stopJob(L, j).catch(() => {});
  await sleep(500);
  await killAll();
  for (const ag of [a, b]) if (ag) reapTasks(ag.dataDir);
});

function cli(...args: string[]) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_TOKEN: "" }, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A long-running shell task: logs "<ns> <alloc id> start|term|usr1" to `file`. */
function loggingJob(id: string, file: string, count: number) {
  const log = (what: string) => `echo "$(/bin/date +%s%N) $CORRAL_ALLOC_ID ${what}" >> ${file}`;
  return {
    id,
    groups: [{
      name: "g", count, restart: { attempts: 3, delay: "200ms", interval: "1m", mode: "fail" }, reschedule: { delay: "500ms", unlimited: true },
      tasks: [{
        name: "srv", command: "/bin/sh", resources: { cpu: 50, memory: 64 },
        args: ["-c", `${log("start")}; trap '${log("usr1")}' USR1; trap '${log("term")}; exit 0' TERM; while :; do /bin/sleep 0.1; done`],
      }],
    }],
  };
}

function lines(file: string): { ms: number; alloc: string; what: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => {
    const [ns, alloc, what] = l.split(" ");
    return { ms: Number(BigInt(ns!) / 1000n) / 1000, alloc: alloc!, what: what! };
  });
}

const JSON_TYPE = { "content-type": "application/json" };

async function alloc(id: string): Promise<any> {
  return (await getJson(`${L}/v1/allocation/${id}`)).body;
}

const other = (nodeId: string) => (nodeId === a.nodeId ? b : a);

describe("operating allocations", () => {
  test("alloc restart: the same allocation runs on with a new process; alloc signal reaches the task's trap", async () => {
    const file = join(shared, "op.log");
    await submit(L, loggingJob("op", file, 1));
    const [x] = await waitRunning(L, "op", 1);
    const oldPid = await eventually(async () => taskPid(await alloc(x.id), "srv"), 10_000);
    await eventually(() => lines(file).some((l) => l.what === "start"), 10_000);

    // Through the leader, by prefix: passed on to the agent running it.
    const r = cli("alloc", "restart", x.id.slice(0, 8), "srv", "--addr", L);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`"srv" of allocation ${x.id}`);
    const after = await eventually(async () => {
      const now = await alloc(x.id);
      const pid = taskPid(now, "srv");
      return now.clientStatus === "running" && now.taskStates.srv.state === "running" && pid !== oldPid && now;
    }, 15_000);
    expect(after.id).toBe(x.id);
    expect(after.desiredStatus).toBe("run");
    expect(after.taskStates.srv.restarts).toBe(1);
    expect(after.taskStates.srv.events.map((e: any) => e.type)).toContain("Restart Signaled");
    expect(alive(oldPid)).toBe(false);
    expect(lines(file).map((l) => l.what)).toEqual(["start", "term", "start"]);
    // The restart did not move the allocation nor place another.
    expect((await allocs(L, "op")).length).toBe(1);

    // Through the agent that does not run it, with -s and --task.
    const newPid = taskPid(after, "srv")!;
    const s = cli("alloc", "signal", x.id.slice(0, 8), "-s", "SIGUSR1", "--task", "srv", "--addr", other(x.nodeId).proc.url);
    expect(s.err).toBe("");
    expect(s.code).toBe(0);
    expect(s.out).toContain("Sent SIGUSR1");
    await eventually(() => lines(file).some((l) => l.what === "usr1"), 10_000);
    expect(taskPid(await alloc(x.id), "srv")).toBe(newPid);
    expect(alive(newPid)).toBe(true);
  }, 90_000);

  test("bad signal names, unknown tasks and unknown allocations are clear JSON errors, and nothing is sent", async () => {
    const [x] = await waitRunning(L, "op", 1);
    const pid = taskPid(await alloc(x.id), "srv")!;
    for (const Signal of ["SIGFOO", "USR1; kill -9 1", "SIGSTOP", "$(reboot)", "9"]) {
      const r = await getJson(`${L}/v1/client/allocation/${x.id}/signal`, { method: "PUT", headers: JSON_TYPE, body: JSON.stringify({ Signal }) });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_SIGNAL");
    }
    const task = await getJson(`${L}/v1/client/allocation/${x.id}/restart`, { method: "POST", headers: JSON_TYPE, body: JSON.stringify({ TaskName: "nope" }) });
    expect(task.status).toBe(400);
    expect(task.body.error).toContain(`no task "nope"`);
    const both = await getJson(`${L}/v1/client/allocation/${x.id}/restart`, { method: "PUT", headers: JSON_TYPE, body: JSON.stringify({ TaskName: "srv", AllTasks: true }) });
    expect(both.status).toBe(400);
    expect(both.body.error).toContain("exclude each other");
    const extra = await getJson(`${L}/v1/client/allocation/${x.id}/restart`, { method: "PUT", headers: JSON_TYPE, body: JSON.stringify({ Task: "srv" }) });
    expect(extra.status).toBe(400);
    expect(extra.body.code).toBe("INVALID_INPUT");
    // A browser form's body type is refused before anything reads it.
    const form = await getJson(`${L}/v1/client/allocation/${x.id}/signal`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ Signal: "SIGKILL" }) });
    expect(form.status).toBe(415);
    const junk = await getJson(`${L}/v1/client/allocation/${x.id}/signal`, { method: "PUT", headers: JSON_TYPE, body: "{not json" });
    expect(junk.status).toBe(400);
    expect(typeof junk.body.error).toBe("string");
    expect(typeof junk.body.code).toBe("string");
    for (const path of ["/v1/client/allocation/ffffffff-0000/restart", "/v1/allocation/ffffffff-0000/stop"]) {
      const r = await getJson(L + path, { method: "PUT" });
      expect(r.status).toBe(404);
      expect(r.body.code).toBe("ALLOC_NOT_FOUND");
    }
    const cliBad = cli("alloc", "signal", x.id, "-s", "SIGBOGUS", "--addr", L);
    expect(cliBad.code).toBe(1);
    expect(cliBad.err).toContain("INVALID_SIGNAL");
    expect(taskPid(await alloc(x.id), "srv")).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect((await alloc(x.id)).taskStates.srv.restarts).toBe(1);
  }, 60_000);

  test("alloc stop: the allocation stops and a replacement is placed", async () => {
    const file = join(shared, "gone.log");
    await submit(L, loggingJob("gone", file, 1));
    const [x] = await waitRunning(L, "gone", 1);
    const pid = await eventually(async () => taskPid(await alloc(x.id), "srv"), 10_000);
    const r = cli("alloc", "stop", x.id.slice(0, 8), "--addr", a.proc.url);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Allocation ${x.id} is stopping`);
    const replaced = await eventually(async () => {
      const list = await allocs(L, "gone");
      const old = list.find((y) => y.id === x.id);
      const fresh = list.find((y) => y.id !== x.id && y.desiredStatus === "run" && y.clientStatus === "running");
      return old?.desiredStatus === "stop" && old.clientStatus === "complete" && fresh && { old, fresh };
    }, 20_000);
    expect(replaced.fresh.taskGroupIndex).toBe(x.taskGroupIndex);
    expect(alive(pid)).toBe(false);
    // Stopping it again is refused: it is no longer running.
    const again = await getJson(`${L}/v1/allocation/${x.id}/stop`, { method: "PUT" });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("ALLOC_NOT_RUNNING");
    const evals = (await getJson<any[]>(`${L}/v1/evaluations`)).body;
    expect(evals.some((e) => e.jobId === "gone" && e.triggeredBy === "alloc-stop")).toBe(true);
  }, 60_000);

  test("job restart --batch-size 1: both allocations restart in place, never both down at once", async () => {
    const file = join(shared, "roll.log");
    await submit(L, loggingJob("roll", file, 2));
    const before = await waitRunning(L, "roll", 2);
    await eventually(() => lines(file).filter((l) => l.what === "start").length === 2, 10_000);
    const r = cli("job", "restart", "roll", "--batch-size", "1", "--addr", L);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("batch 2");
    const after = await waitRunning(L, "roll", 2);
    expect(after.map((x) => x.id).sort()).toEqual(before.map((x) => x.id).sort());
    // Each allocation's down time, from its task's own lines: from "term" to its next "start".
    const log = lines(file);
    const down = before.map((x) => {
      const mine = log.filter((l) => l.alloc === x.id);
      expect(mine.map((l) => l.what)).toEqual(["start", "term", "start"]);
      return { from: mine[1]!.ms, to: mine[2]!.ms };
    }).sort((p, q) => p.from - q.from);
    expect(down[0]!.to).toBeLessThan(down[1]!.from);
  }, 90_000);

  test("job restart --reschedule: each allocation is replaced by a new one (default batch: max_parallel = 1)", async () => {
    const before = await waitRunning(L, "roll", 2);
    const r = cli("job", "restart", "roll", "--reschedule", "--addr", L);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("in batches of 1 (rescheduling)");
    const after = await waitRunning(L, "roll", 2);
    expect(after.some((x) => before.some((y) => y.id === x.id))).toBe(false);
    expect(after.map((x) => x.taskGroupIndex).sort()).toEqual([0, 1]);
    const list = await allocs(L, "roll");
    for (const old of before) expect(list.find((x) => x.id === old.id)?.desiredStatus).toBe("stop");
  }, 90_000);
});
