// Task lifecycle hooks with real processes (one leader, one agent): the
// order is recorded by the tasks themselves, each appending a line with a
// nanosecond timestamp to a shared file: prestart before main, the prestart
// sidecar alive for as long as main runs, poststart after main started,
// poststop after main (and the sidecar) stopped. A failing prestart keeps
// the main task from ever starting and fails the allocation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { BUN, ENTRY, ROOT, eventually, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { alive, allocs, reapTasks, startAgent, startLeader, stopJob, submit, taskPid, type Agent } from "./cluster-helpers.ts";

let leader: CorralProcess;
let agent: Agent;
let L: string;
let shared: string;
const devDirs: string[] = [];

beforeAll(async () => {
  leader = await startLeader();
  L = leader.url;
  agent = await startAgent(leader, "agent-life");
  // Tasks run as nobody: the file they share must be writable by anyone.
  shared = tempDir("corral-lifecycle-");
  chmodSync(shared, 0o777);
}, 60_000);

afterAll(async () => {
  for (const j of ["ordered", "badinit", "app", "rerun", "sidecars"]) await stopJob(L, j).catch(() => {});
  await sleep(500);
  await killAll();
  if (agent) reapTasks(agent.dataDir);
  for (const d of devDirs) reapTasks(d);
});

/** A shell task that logs "<ns> <task> <what>" lines to `file`. */
function shellTask(name: string, file: string, script: string, lifecycle?: Record<string, unknown>) {
  const log = (what: string) => `echo "$(/bin/date +%s%N) ${name} ${what}" >> ${file}`;
  return {
    name, command: "/bin/sh", args: ["-c", script.replaceAll(/LOG\(([a-z-]+)\)/g, (_, w: string) => log(w))],
    resources: { cpu: 50, memory: 64 }, ...(lifecycle ? { lifecycle } : {}),
  };
}

function events(file: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").trim().split("\n")) {
    const [ns, task, what] = line.split(" ");
    if (ns && task && what && !out.has(`${task} ${what}`)) out.set(`${task} ${what}`, Number(BigInt(ns) / 1000n) / 1000);
  }
  return out;
}

describe("task lifecycle hooks", () => {
  test("prestart runs to completion before main, the sidecar runs alongside, poststart after main started, poststop after main stopped", async () => {
    const file = join(shared, "ordered.log");
    await submit(L, {
      id: "ordered", type: "batch",
      groups: [{
        name: "g", restart: { attempts: 0, mode: "fail" }, reschedule: { attempts: 0, unlimited: false },
        tasks: [
          shellTask("main", file, "LOG(start); /bin/sleep 1.5; LOG(end)"),
          shellTask("init", file, "LOG(start); /bin/sleep 1; LOG(end)", { hook: "prestart" }),
          shellTask("side", file, "LOG(start); trap 'LOG(term); exit 0' TERM; while :; do /bin/sleep 0.1; done", { hook: "prestart", sidecar: true }),
          shellTask("post", file, "LOG(start)", { hook: "poststart" }),
          shellTask("cleanup", file, "LOG(start)", { hook: "poststop" }),
        ],
      }],
    });
    const done = await eventually(async () => (await allocs(L, "ordered")).find((a) => a.clientStatus === "complete" || a.clientStatus === "failed"), 30_000, 200);
    expect(done.clientStatus).toBe("complete");
    const e = events(file);
    const at = (k: string) => {
      const v = e.get(k);
      if (v === undefined) throw new Error(`no "${k}" line in ${[...e.keys()].join(", ")}`);
      return v;
    };
    // prestart (ephemeral) finished before main started; the sidecar was up before main.
    expect(at("init end")).toBeLessThan(at("main start"));
    expect(at("side start")).toBeLessThan(at("main start"));
    // The sidecar ran for as long as main did: it was stopped only after main ended.
    expect(at("side term")).toBeGreaterThan(at("main end"));
    // poststop after main ended and the sidecar was stopped.
    expect(at("cleanup start")).toBeGreaterThan(at("main end"));
    expect(at("cleanup start")).toBeGreaterThan(at("side term"));
    // Every task ran once; the states say how each ended.
    const full = (await (await fetch(`${L}/v1/allocation/${done.id}`)).json()) as any;
    // poststart once main runs: spawned after main's process was (the two shells' first lines may come in
    // either order), and before main ended.
    expect(full.taskStates.post.startedAt).toBeGreaterThanOrEqual(full.taskStates.main.startedAt);
    expect(at("post start")).toBeGreaterThanOrEqual(full.taskStates.main.startedAt);
    expect(at("post start")).toBeLessThan(at("main end"));
    for (const t of ["init", "post", "cleanup", "main"]) {
      expect(full.taskStates[t].state).toBe("dead");
      expect(full.taskStates[t].failed).toBe(false);
      expect(full.taskStates[t].restarts).toBe(0);
    }
    expect(full.taskStates.side.events.map((x: any) => x.type)).toContain("Killing");
  }, 60_000);

  test("a failing prestart keeps main from ever starting and fails the allocation", async () => {
    const file = join(shared, "badinit.log");
    await submit(L, {
      id: "badinit", type: "service",
      groups: [{
        name: "g", restart: { attempts: 1, delay: "200ms", interval: "1m", mode: "fail" }, reschedule: { attempts: 0, unlimited: false },
        tasks: [
          shellTask("main", file, "LOG(start); while :; do /bin/sleep 0.1; done"),
          shellTask("init", file, "LOG(start); exit 3", { hook: "prestart" }),
          shellTask("cleanup", file, "LOG(start)", { hook: "poststop" }),
        ],
      }],
    });
    const failed = await eventually(async () => (await allocs(L, "badinit")).find((a) => a.clientStatus === "failed"), 30_000, 200);
    await sleep(1000); // would main start late?
    const e = events(file);
    expect(e.has("init start")).toBe(true);
    expect(e.has("main start")).toBe(false);
    expect(e.has("cleanup start")).toBe(false);
    const full = (await (await fetch(`${L}/v1/allocation/${failed.id}`)).json()) as any;
    expect(full.taskStates.init.failed).toBe(true);
    expect(full.taskStates.init.restarts).toBe(1); // its restart attempt was made first
    expect(full.taskStates.main.state).toBe("dead");
    expect(full.taskStates.main.events.some((x: any) => x.type === "Started")).toBe(false);
    expect(full.clientDescription).toContain("exited with code 3");
  }, 60_000);

  test("a group of only lifecycle tasks, and a poststop sidecar, are refused with the key path", async () => {
    const r = await fetch(`${L}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "nomain", groups: [{ name: "g", tasks: [{ name: "a", command: "/bin/true", lifecycle: { hook: "poststop", sidecar: true } }] }] }),
    });
    expect(r.status).toBe(400);
    const text = JSON.stringify(await r.json());
    expect(text).toContain("at least one main task");
    expect(text).toContain("cannot be a sidecar");
    const bad = await fetch(`${L}/v1/jobs`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "badhook", groups: [{ name: "g", tasks: [{ name: "m", command: "/bin/true" }, { name: "a", command: "/bin/true", lifecycle: { hook: "prerun" } }] }] }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain("prestart");
  }, 30_000);

  test("docs/jobs.md's lifecycle example runs as written: prestart completed, sidecar beside web, poststop when the job stops", async () => {
    const doc = readFileSync(join(ROOT, "docs/jobs.md"), "utf8");
    const toml = /<!-- example:lifecycle -->\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(toml).toBeTruthy();
    const r = await getJson(`${L}/v1/jobs`, { method: "POST", body: toml, headers: { "content-type": "application/toml" } });
    expect(r.status).toBe(200);
    const running = await eventually(async () => {
      const x = (await allocs(L, "app")).find((a) => a.clientStatus === "running");
      const full = x && (await getJson(`${L}/v1/allocation/${x.id}`)).body;
      return full?.taskStates?.migrate?.state === "dead" && full.taskStates["log-shipper"]?.state === "running" && full;
    }, 30_000, 200);
    expect(running.taskStates.migrate.failed).toBe(false);
    expect(running.taskStates.web.state).toBe("running");
    expect(running.taskStates.goodbye.state).toBe("pending");
    const logs = (task: string) => fetch(`${L}/v1/alloc/${running.id}/logs?task=${task}`).then((x) => x.text());
    expect(await logs("migrate")).toBe("migrating\nmigrated\n");
    expect(await logs("goodbye")).toBe("");
    // alloc status says when each task runs.
    const status = spawnSync(BUN, [ENTRY, "alloc", "status", running.id.slice(0, 8), "--addr", L], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(status.status).toBe(0);
    expect(status.stdout).toContain(`Task "migrate" (prestart): dead`);
    expect(status.stdout).toContain(`Task "log-shipper" (prestart sidecar): running`);
    expect(status.stdout).toContain(`Task "web": running`);
    expect(status.stdout).toContain(`Task "goodbye" (poststop): pending`);
    await stopJob(L, "app");
    const done = await eventually(async () => {
      const full = (await getJson(`${L}/v1/allocation/${running.id}`)).body;
      return full.clientStatus === "complete" && full;
    }, 30_000, 200);
    expect(done.taskStates.goodbye.state).toBe("dead");
    expect(done.taskStates.goodbye.failed).toBe(false);
    expect(await logs("goodbye")).toBe("goodbye\n");
  }, 60_000);

  test("alloc restart re-runs only the running tasks; AllTasks runs the prestart task again before main", async () => {
    const file = join(shared, "rerun.log");
    await submit(L, {
      id: "rerun",
      groups: [{
        name: "g", restart: { attempts: 2, delay: "200ms", interval: "1m", mode: "fail" },
        tasks: [
          shellTask("main", file, "LOG(start); trap 'LOG(term); exit 0' TERM; while :; do /bin/sleep 0.1; done"),
          shellTask("init", file, "LOG(start); /bin/sleep 0.5; LOG(end)", { hook: "prestart" }),
        ],
      }],
    });
    const x = await eventually(async () => (await allocs(L, "rerun")).find((a) => a.clientStatus === "running"), 30_000, 200);
    await eventually(() => readFileSync(file, "utf8").includes("main start"), 10_000);
    const seq = () => readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" ").slice(1).join(" "));
    const restart = (body: unknown) => getJson(`${L}/v1/client/allocation/${x.id}/restart`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    const plain = await restart({});
    expect(plain.status).toBe(200);
    expect(plain.body.tasks).toEqual(["main"]); // the completed prestart task is not restarted
    await eventually(() => seq().length === 5, 10_000);
    expect(seq()).toEqual(["init start", "init end", "main start", "main term", "main start"]);

    const all = await restart({ AllTasks: true });
    expect(all.status).toBe(200);
    expect(all.body.tasks.sort()).toEqual(["init", "main"]);
    await eventually(() => seq().length === 9, 10_000);
    expect(seq().slice(5)).toEqual(["main term", "init start", "init end", "main start"]);
    const full = await eventually(async () => {
      const a = (await getJson(`${L}/v1/allocation/${x.id}`)).body;
      return a.clientStatus === "running" && a.taskStates.main.state === "running" && a;
    }, 10_000);
    expect(full.taskStates.main.restarts).toBe(2);
    expect(full.taskStates.init.state).toBe("dead");
    expect(full.taskStates.init.failed).toBe(false);
  }, 60_000);

  test("a node killed mid-lifecycle adopts its running tasks; the completed prestart does not run again, poststop waits for the stop", async () => {
    // A dev node restarts without a node_ttl to beat (its own leader).
    const config = `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.exec]\nkill_timeout = "1s"\n`;
    let dev = await startCorral({ role: "dev", config });
    const D = dev.url;
    devDirs.push(dev.dataDir);
    const file = join(shared, "adopted.log");
    await submit(D, {
      id: "adopted",
      groups: [{
        name: "g", restart: { attempts: 2, delay: "200ms", interval: "1m", mode: "fail" },
        tasks: [
          shellTask("main", file, "LOG(start); trap 'exit 0' TERM; while :; do /bin/sleep 0.1; done"),
          shellTask("init", file, "LOG(start)", { hook: "prestart" }),
          shellTask("side", file, "LOG(start); trap 'exit 0' TERM; while :; do /bin/sleep 0.1; done", { hook: "prestart", sidecar: true }),
          shellTask("bye", file, "LOG(start)", { hook: "poststop" }),
        ],
      }],
    });
    const x = await eventually(async () => {
      const a = (await allocs(D, "adopted")).find((y) => y.clientStatus === "running");
      const full = a && (await getJson(`${D}/v1/allocation/${a.id}`)).body;
      return full?.taskStates?.init?.state === "dead" && taskPid(full, "main") && taskPid(full, "side") && full;
    }, 30_000, 200);
    const pids = { main: taskPid(x, "main")!, side: taskPid(x, "side")! };
    await dev.kill("SIGKILL");
    dev = await startCorral({ role: "dev", port: dev.port, dataDir: dev.dataDir, config });
    const back = await eventually(async () => {
      const full = (await getJson(`${D}/v1/allocation/${x.id}`)).body;
      const events = (t: string) => full.taskStates[t].events.map((e: any) => e.type);
      return events("main").includes("Reattached") && events("side").includes("Reattached") && full;
    }, 30_000, 200);
    expect(back.clientStatus).toBe("running");
    expect(alive(pids.main) && alive(pids.side)).toBe(true);
    expect(back.taskStates.bye.state).toBe("pending");
    await sleep(500);
    const seen = () => readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" ").slice(1).join(" ")).sort();
    expect(seen()).toEqual(["init start", "main start", "side start"]);
    await stopJob(D, "adopted");
    await eventually(async () => (await getJson(`${D}/v1/allocation/${x.id}`)).body.clientStatus === "complete", 30_000, 200);
    expect(seen()).toEqual(["bye start", "init start", "main start", "side start"]);
    expect(alive(pids.main) || alive(pids.side)).toBe(false);
  }, 90_000);

  test("in a service job a sidecar that exits is restarted by the policy beside main; ephemeral tasks that exit 0 are not", async () => {
    const file = join(shared, "sidecars.log");
    const marker = join(shared, "sidecar-failed-once");
    await submit(L, {
      id: "sidecars",
      groups: [{
        name: "g", restart: { attempts: 3, delay: "200ms", interval: "1m", mode: "fail" },
        tasks: [
          shellTask("main", file, "LOG(start); while :; do /bin/sleep 0.1; done"),
          shellTask("init", file, "LOG(start)", { hook: "prestart" }),
          // Fails once (exit 1), then stays up.
          shellTask("side", file, `LOG(start); if [ ! -f ${marker} ]; then : > ${marker}; exit 1; fi; while :; do /bin/sleep 0.1; done`, { hook: "prestart", sidecar: true }),
          shellTask("post", file, "LOG(start)", { hook: "poststart" }),
        ],
      }],
    });
    const full = await eventually(async () => {
      const x = (await allocs(L, "sidecars")).find((a) => a.clientStatus === "running");
      const a = x && (await getJson(`${L}/v1/allocation/${x.id}`)).body;
      return a?.taskStates?.post?.state === "dead" && a.taskStates.side.state === "running" && a;
    }, 30_000, 200);
    expect(full.taskStates.side.restarts).toBe(1);
    expect(full.taskStates.main.state).toBe("running");
    await sleep(1000); // an ephemeral task restarted after success would show by now
    const again = (await getJson(`${L}/v1/allocation/${full.id}`)).body;
    for (const t of ["init", "post"]) {
      expect(again.taskStates[t].state).toBe("dead");
      expect(again.taskStates[t].failed).toBe(false);
      expect(again.taskStates[t].restarts).toBe(0);
    }
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" ").slice(1).join(" "));
    expect(lines.filter((l) => l === "init start").length).toBe(1);
    expect(lines.filter((l) => l === "post start").length).toBe(1);
    expect(lines.filter((l) => l === "side start").length).toBe(2);
    expect(lines.filter((l) => l === "main start").length).toBe(1);
  }, 60_000);
});
