// Workloads outlive the agent (issue 20, point 2), with real processes: a
// long-running task on a dev node survives kill -9 and SIGTERM of the node
// (same pid, reported running again, its log file goes on growing, restart
// count unchanged); a task that died while the node was down is restarted
// by its policy and that restart is counted; SIGHUP with an unchanged
// config, `corral plugins reload exec`, and disabling then enabling exec
// leave the pid alone. The same on a leader + agent pair: the agent killed
// (or stopped) and restarted within node_ttl keeps its task.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, sleep, tempDir, freePort, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { BUN, SECRET, alive, allocs, reapTasks, submit, taskPid, waitRunning } from "./cluster-helpers.ts";

const dataDirs: string[] = [];
afterAll(async () => {
  await killAll();
  for (const d of dataDirs) reapTasks(d);
});

/** A task that writes a numbered line every 100 ms. */
function tickJob(id: string) {
  return {
    id,
    groups: [{
      name: "g", count: 1,
      restart: { attempts: 3, delay: "200ms", interval: "10m", mode: "fail" },
      reschedule: { attempts: 0, unlimited: false },
      tasks: [{ name: "t", command: BUN, args: ["-e", "let i = 0; setInterval(() => console.log('tick ' + i++), 100)"], resources: { cpu: 100, memory: 128 } }],
    }],
  };
}

const logFile = (dataDir: string, allocId: string) => join(dataDir, "exec", "allocs", allocId, "logs", "t.stdout.log");
const recordedPid = (dataDir: string, allocId: string) =>
  (JSON.parse(readFileSync(join(dataDir, "exec", "processes.json"), "utf8")).tasks as any[]).find((t) => t.allocId === allocId)?.pid;

async function alloc(base: string, jobId: string) {
  return (await allocs(base, jobId)).find((a) => a.desiredStatus === "run")!;
}

/** After a restart: the task reported running again (a Reattached event newer than `since`), same pid. */
async function reattached(base: string, jobId: string, since: number) {
  return eventually(async () => {
    const a = await alloc(base, jobId);
    const t = a?.taskStates?.t;
    const ev = t?.events?.filter((e: any) => e.type === "Reattached" && e.at > since).at(-1);
    return a.clientStatus === "running" && t.state === "running" && ev && a;
  }, 20_000, 100);
}

async function grows(file: string, ino: number) {
  const size = statSync(file).size;
  await eventually(() => statSync(file).size > size, 5000, 50);
  expect(statSync(file).ino).toBe(ino); // the same file, written by the task itself
}

describe("tasks outlive a dev node", () => {
  const config = `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\nwatchdog_interval = "100ms"\n`;
  let dev: CorralProcess;
  let port: number;
  let dataDir: string;
  let allocId: string;
  let pid: number;
  let ino: number;
  const restart = async () => {
    dev = await startCorral({ role: "dev", port, dataDir, config });
  };

  test("a job's task runs; kill -9 of the node leaves it running; the restarted node adopts it", async () => {
    dev = await startCorral({ role: "dev", config });
    port = dev.port;
    dataDir = dev.dataDir;
    dataDirs.push(dataDir);
    await submit(dev.url, tickJob("tick"));
    const [a] = await waitRunning(dev.url, "tick", 1);
    allocId = a.id;
    pid = taskPid(a, "t")!;
    expect(pid).toBeGreaterThan(0);
    ino = statSync(logFile(dataDir, allocId)).ino;
    await eventually(() => readFileSync(logFile(dataDir, allocId), "utf8").includes("tick 3"), 5000);

    await dev.kill("SIGKILL");
    const t0 = Date.now();
    await sleep(500);
    expect(alive(pid)).toBe(true);
    await grows(logFile(dataDir, allocId), ino); // output goes on while no agent runs
    const sizeBeforeRestart = statSync(logFile(dataDir, allocId)).size;
    await restart();
    const back = await reattached(dev.url, "tick", t0);
    expect(alive(pid)).toBe(true);
    expect(taskPid(back, "t")).toBe(pid);
    expect(recordedPid(dataDir, allocId)).toBe(pid);
    expect(back.taskStates.t.restarts).toBe(0);
    expect(readFileSync(logFile(dataDir, allocId), "utf8")).toContain("tick 0\ntick 1\n"); // the first lines are still there
    await grows(logFile(dataDir, allocId), ino);
    // And the API serves them, from before and after the restart.
    const logs = await fetch(`${dev.url}/v1/alloc/${allocId}/logs?task=t&type=stdout`);
    expect(logs.status).toBe(200);
    const text = await logs.text();
    expect(text).toContain("tick 0\n");
    expect(text.length).toBeGreaterThan(sizeBeforeRestart);
    expect(readFileSync(logFile(dataDir, allocId), "utf8").startsWith(text)).toBe(true);
  }, 90_000);

  test("SIGTERM of the node stops the node, not its tasks", async () => {
    const code = await dev.kill("SIGTERM");
    expect(code).toBe(0);
    const t0 = Date.now();
    expect(alive(pid)).toBe(true);
    await restart();
    const back = await reattached(dev.url, "tick", t0);
    expect(taskPid(back, "t")).toBe(pid);
    expect(back.taskStates.t.restarts).toBe(0);
    await grows(logFile(dataDir, allocId), ino);
  }, 90_000);

  test("SIGHUP with an unchanged config, `corral plugins reload exec`, and exec disabled then enabled leave the pid alone", async () => {
    const events = (await alloc(dev.url, "tick")).taskStates.t.events.length;
    dev.child.kill("SIGHUP");
    await eventually(() => dev.output().includes("configuration reloaded"), 10_000);
    await sleep(1000);
    expect(alive(pid)).toBe(true);
    let a = await alloc(dev.url, "tick");
    expect(taskPid(a, "t")).toBe(pid);
    expect(a.taskStates.t.events.length).toBe(events); // nothing happened to the task

    const t0 = Date.now();
    const r = spawnSync(BUN, [ENTRY, "plugins", "reload", "exec"], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: dev.url }, encoding: "utf8" });
    expect(r.status).toBe(0);
    a = await reattached(dev.url, "tick", t0);
    expect(alive(pid)).toBe(true);
    expect(taskPid(a, "t")).toBe(pid);
    expect(a.taskStates.t.restarts).toBe(0);
    expect(recordedPid(dataDir, allocId)).toBe(pid);

    // Disable, then enable: the task runs on unwatched meanwhile, and is adopted again.
    const toggle = (enabled: boolean) => getJson(`${dev.url}/v1/plugins/exec`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled }) });
    expect((await toggle(false)).body.state).toBe("disabled");
    await sleep(500);
    expect(alive(pid)).toBe(true);
    const t1 = Date.now();
    expect((await toggle(true)).body.state).toBe("enabled");
    a = await reattached(dev.url, "tick", t1);
    expect(taskPid(a, "t")).toBe(pid);
    expect(a.taskStates.t.restarts).toBe(0);
  }, 60_000);

  test("a task that died while the node was down is restarted by its policy, and the restart is counted", async () => {
    await dev.kill("SIGKILL");
    process.kill(-pid, "SIGKILL");
    await eventually(() => !alive(pid), 5000);
    const t0 = Date.now();
    await restart();
    const a = await eventually(async () => {
      const x = await alloc(dev.url, "tick");
      const t = x?.taskStates?.t;
      return t?.state === "running" && t.restarts === 1 && taskPid(x, "t") !== pid && x;
    }, 20_000, 100);
    const fresh = taskPid(a, "t")!;
    expect(alive(fresh)).toBe(true);
    expect(a.taskStates.t.events.map((e: any) => e.message).join("\n")).toContain("exit status unknown");
    expect(a.taskStates.t.events.filter((e: any) => e.at > t0).map((e: any) => e.type)).toContain("Restarting");
    // Still the same file: the new process appends to it.
    expect(statSync(logFile(dataDir, allocId)).ino).toBe(ino);
    pid = fresh;
  }, 90_000);

  test("job stop still stops the task", async () => {
    const r = await getJson(`${dev.url}/v1/job/tick`, { method: "DELETE" });
    expect(r.status).toBe(200);
    await eventually(() => !alive(pid), 15_000);
    await eventually(() => !existsSync(join(dataDir, "exec", "processes.json")) || recordedPid(dataDir, allocId) === undefined, 10_000);
  }, 60_000);
});

describe("tasks outlive an agent", () => {
  test("leader + agent: kill -9 and SIGTERM of the agent leave the task running; the restarted agent adopts it", async () => {
    // A node_ttl long enough that the agent is back before its allocations would be marked lost.
    const leader = await startCorral({
      role: "leader",
      config: `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "60s"\n\n[raft]\nsync = "normal"\n\n[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n`,
    });
    const port = await freePort();
    const dataDir = join(tempDir(), "agent-data");
    dataDirs.push(dataDir);
    const config = [
      `[node]\nname = "keeper"`, `[cluster]\nsecret = "${SECRET}"`,
      `[agent]\nleaders = ["127.0.0.1:${leader.port}"]\nheartbeat = "300ms"`,
      `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false`,
      `[plugins.probe]\ncpu_total_mhz = 2000\nmemory_total_mb = 2048`,
      `[plugins.exec]\nkill_timeout = "1s"`,
    ].join("\n\n") + "\n";
    let agent = await startCorral({ role: "agent", port, dataDir, config });
    await eventually(async () => (await getJson<any[]>(leader.url + "/v1/nodes")).body.find((n) => n.name === "keeper" && n.status === "ready"), 15_000);
    await submit(leader.url, tickJob("tock"));
    const [a] = await waitRunning(leader.url, "tock", 1);
    const pid = taskPid(a, "t")!;
    const ino = statSync(logFile(dataDir, a.id)).ino;

    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      await agent.kill(signal);
      const t0 = Date.now();
      expect(alive(pid)).toBe(true);
      agent = await startCorral({ role: "agent", port, dataDir, config });
      const back = await reattached(leader.url, "tock", t0);
      expect(taskPid(back, "t")).toBe(pid);
      expect(back.taskStates.t.restarts).toBe(0);
      expect(alive(pid)).toBe(true);
      await grows(logFile(dataDir, a.id), ino);
    }
    await getJson(`${leader.url}/v1/job/tock`, { method: "DELETE" });
    await eventually(() => !alive(pid), 15_000);
  }, 120_000);
});
