// Isolated exec tasks (issue 16, point 1; docs/exec.md "Isolation"), with
// real processes on a real root dev node running bubblewrap: a task sees
// only its own processes, not its neighbour's files (same user!), the data
// dir, /root, the host's /tmp or the agent's environment, writes only its
// own folder and /tmp (its own); network_mode = "none" cannot reach a
// loopback port the test listens on (and "host" can: the control); an
// agent killed with -9 and started again leaves the task running and takes
// it up again; a stop gives the task its kill_timeout grace. A node that
// cannot isolate says so (driver.exec.isolation = "none") and a task that
// requires isolation is not placed there, with the reason.
//
// Needs root and /usr/bin/bwrap: skipped, with the reason printed, otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, linkSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, devSecretOf, tempDir, sleep, type CorralProcess } from "../helpers/proc.ts";
import { detectIsolation } from "../../plugins/exec/sandbox-host.ts";
import { IS_ROOT, finishedAlloc, headers, shellJob, taskLogs, uidOf } from "./helpers-workload.ts";

const BWRAP = "/usr/bin/bwrap";
const CAN = IS_ROOT && existsSync(BWRAP) && existsSync("/bin/bash");
if (!CAN) console.log(`test/security/isolation.test.ts skipped: needs root and ${BWRAP} (Debian: bubblewrap) and /bin/bash (uid ${process.getuid?.()}, bwrap ${existsSync(BWRAP) ? "present" : "absent"})`);

const CONFIG = `[plugins]\nenabled = ["probe", "exec"]\nwatch = false\n\n[plugins.exec]\nkill_timeout = "5s"\n`;
const AGENT_ENV = { SOME_AGENT_SECRET: "agent-env-secret-iso-4e1c" };

let dev: CorralProcess;
const servers: Server[] = [];

/** A data dir whose parent anyone may list, as /var/lib is. */
function dataDirIn(): string {
  const parent = tempDir("corral-iso-");
  chmodSync(parent, 0o755);
  return join(parent, "data");
}

beforeAll(async () => {
  if (!CAN) return;
  dev = await startCorral({ role: "dev", dataDir: dataDirIn(), config: CONFIG, env: AGENT_ENV });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 15_000);
}, 30_000);

afterAll(async () => {
  for (const s of servers) s.close();
  // Stop the long-running jobs so no task outlives the test.
  if (dev) for (const id of ["keeper", "long"]) await fetch(`${dev.url}/v1/job/${id}`, { method: "DELETE" }).catch(() => {});
  await sleep(500);
  await killAll();
});

async function submit(url: string, job: Record<string, unknown>) {
  return getJson(url + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: headers() });
}

function serviceJob(id: string, script: string, task: Record<string, unknown> = {}) {
  const j = shellJob(id, script, task) as any;
  j.type = "service";
  j.groups[0].restart = { attempts: 0, mode: "fail" };
  return j;
}

async function runningAlloc(url: string, jobId: string): Promise<any> {
  return eventually(async () => {
    const list = (await getJson<any[]>(`${url}/v1/job/${jobId}/allocations`)).body;
    return Array.isArray(list) && list.find((a) => a.clientStatus === "running");
  }, 30_000, 200);
}

const recordedPid = (dataDir: string, allocId: string): number =>
  (JSON.parse(readFileSync(join(dataDir, "exec", "processes.json"), "utf8")).tasks as any[]).find((t) => t.allocId === allocId)?.pid;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The lines of `out` between the line `start:` and the next line ending in ":". */
function section(out: string, name: string): string {
  const lines = out.split("\n");
  const i = lines.indexOf(`${name}:`);
  const rest = lines.slice(i + 1);
  const j = rest.findIndex((l) => /^[a-z]+:$/.test(l));
  return (j < 0 ? rest : rest.slice(0, j)).join("\n");
}

describe.skipIf(!CAN)("an isolated exec task", () => {
  test("the node reports it can isolate", async () => {
    const node = (await getJson<any[]>(dev.url + "/v1/nodes")).body[0];
    const full = (await getJson<any>(`${dev.url}/v1/node/${node.id ?? node.ID}`)).body;
    const attrs = full.attributes ?? full.Attributes;
    expect(attrs["driver.exec.isolation"]).toBe("namespaces");
    expect(attrs["driver.exec.bwrap.version"]).toMatch(/^\d+\.\d+/);
  });

  test("sees only its own processes; not its neighbour's files, the data dir, /root, the host's /tmp or the agent's environment; writes only its folder", async () => {
    // The neighbour runs as the same user (nobody): only isolation keeps its folder out of reach.
    expect((await submit(dev.url, serviceJob("keeper", `echo keeper-file-7f3 > "$CORRAL_TASK_DIR/mine"; exec sleep 600`))).status).toBe(200);
    const keeper = await runningAlloc(dev.url, "keeper");
    const keeperDir = join(dev.dataDir, "exec", "allocs", keeper.id, "tasks", "t");
    await eventually(() => existsSync(join(keeperDir, "mine")), 10_000);
    const keeperPid = recordedPid(dev.dataDir, keeper.id);
    const agentPid = dev.child.pid!;
    const marker = tempDir("corral-iso-host-tmp-marker-");
    const script = [
      `echo "pids:"; for p in /proc/[0-9]*; do echo "$\${p#/proc/}"; done`,
      `echo "neighbour:"; cat "$KD/mine"; ls "$KD"`,
      `echo "datadir:"; ls "$D"; cat "$D/cluster-secret"`,
      `echo "root:"; ls -a /root`,
      `echo "environ:"; cat /proc/${agentPid}/environ; cat /proc/1/environ; env`,
      `echo "tmp:"; ls -a /tmp; echo mine > /tmp/probe-tmp && echo "tmp-write=ok"`,
      `echo "writes:"; for p in /usr/x /etc/x /x /var/tmp/x "$CORRAL_ALLOC_DIR/x"; do (echo x > "$p") 2>/dev/null && echo "wrote $p"; done`,
      `echo "own:"; echo ok > "$CORRAL_TASK_DIR/own" && echo "own-write=ok"`,
      `echo "end:"`,
    ].join("\n");
    expect((await submit(dev.url, shellJob("prober", script, { env: { D: dev.dataDir, KD: keeperDir } }))).status).toBe(200);
    const alloc = await finishedAlloc(dev.url, "prober");
    const out = await taskLogs(dev.url, alloc.id);
    expect(out).toContain("end:");
    if (process.env.CORRAL_TEST_VERBOSE) console.log(out);
    expect(alloc.taskStates.t.events.find((e: any) => e.type === "Started").message).toContain("(isolated)");

    const pids = section(out, "pids").split("\n").filter(Boolean).map(Number);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.every((p) => p < 20)).toBe(true); // its own PID namespace: bwrap's init, the shell, its children
    expect(pids).not.toContain(keeperPid);
    expect(pids).not.toContain(agentPid);
    expect(section(out, "neighbour")).not.toContain("keeper-file-7f3");
    expect(section(out, "neighbour")).not.toContain("mine");
    // Only the empty way down to its own folder (traversable, not listable): no state.db, no cluster-secret, no raft log.
    expect(section(out, "datadir")).toBe("");
    expect(out).not.toContain(devSecretOf(dev.dataDir));
    expect(section(out, "root")).toBe("");
    expect(out).not.toContain(AGENT_ENV.SOME_AGENT_SECRET);
    // A private /tmp: none of the host's temp folders (this test's own are there). The data dir of this
    // test lives under /tmp, so the empty folders down to the task's own show (a real one is /var/lib/...).
    const skeleton = dev.dataDir.split("/")[2]!;
    expect(section(out, "tmp").split("\n").filter((l) => l && l !== "." && l !== ".." && l !== skeleton)).toEqual(["tmp-write=ok"]);
    expect(section(out, "tmp")).not.toContain(marker.split("/")[2]);
    expect(section(out, "writes")).toBe("");
    expect(section(out, "own")).toBe("own-write=ok");
    expect(readFileSync(join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "own"), "utf8")).toBe("ok\n");
    // Really the task user on the host, not a mapped root.
    expect(statSync(join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "own")).uid).toBe(uidOf("nobody")!);
  }, 90_000);

  test("a program named by absolute path outside chroot_env (bun here) runs isolated: that one file is bound read-only", async () => {
    // bun as an operator would install it (/opt/...): a checkout under /tmp would put it where no
    // sandbox may look (/tmp is never shared), so the test links the binary there, as a copy would.
    const dir = mkdtempSync("/opt/corral-iso-");
    chmodSync(dir, 0o755);
    const bun = join(dir, "bun");
    try {
      linkSync(process.execPath, bun);
    } catch {
      copyFileSync(process.execPath, bun);
      chmodSync(bun, 0o755);
    }
    try {
      const job = shellJob("bun-iso", "", { command: bun, args: ["-e", "console.log('pid=' + process.pid + ' uid=' + process.getuid())"] });
      expect((await submit(dev.url, job)).status).toBe(200);
      const alloc = await finishedAlloc(dev.url, "bun-iso");
      expect(alloc.clientStatus, JSON.stringify(alloc.taskStates)).toBe("complete");
      expect((await taskLogs(dev.url, alloc.id)).trim()).toBe(`pid=2 uid=${uidOf("nobody")}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a data dir whose parent folder task users cannot traverse: no isolation, with the reason", () => {
    const parent = tempDir("corral-iso-closed-"); // 0700
    const iso = detectIsolation({ bwrap: BWRAP, chrootEnv: ["/usr"], dataDir: join(parent, "data"), runAs: { uid: uidOf("nobody")!, gid: uidOf("nobody")! } });
    expect(iso.ok).toBe(false);
    expect(!iso.ok && iso.reason).toContain(`${parent}, above the data dir, is not traversable by others`);
  });

  test("network_mode = \"none\" cannot reach a loopback port; the host network can (control)", async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const connect = `if bash -c 'echo hi > /dev/tcp/127.0.0.1/${port}' 2>/dev/null; then echo connected; else echo unreachable; fi`;
    expect((await submit(dev.url, shellJob("net-none", connect, { network_mode: "none" }))).status).toBe(200);
    const none = await finishedAlloc(dev.url, "net-none");
    expect((await taskLogs(dev.url, none.id)).trim()).toBe("unreachable");
    expect(connections).toBe(0);
    expect((await submit(dev.url, shellJob("net-host", connect))).status).toBe(200);
    const host = await finishedAlloc(dev.url, "net-host");
    expect((await taskLogs(dev.url, host.id)).trim()).toBe("connected");
    await eventually(() => connections === 1, 5000);
  }, 90_000);

  test("corral alloc signal reaches the isolated task itself, not bubblewrap's monitor (which a SIGUSR1 would kill)", async () => {
    // "ready" once the trap is set: a SIGUSR1 before it would end the shell (its default action), on a loaded machine too.
    const script = `trap 'echo usr1 >> "$CORRAL_TASK_DIR/signals"' USR1; echo ready > "$CORRAL_TASK_DIR/ready"; while true; do sleep 0.2; done`;
    expect((await submit(dev.url, serviceJob("sig-iso", script))).status).toBe(200);
    const alloc = await runningAlloc(dev.url, "sig-iso");
    const pid = recordedPid(dev.dataDir, alloc.id);
    expect(readlinkSync(`/proc/${pid}/exe`)).toEndWith("bwrap");
    await eventually(() => existsSync(join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "ready")), 30_000, 100);
    const r = await getJson(`${dev.url}/v1/client/allocation/${alloc.id}/signal`, { method: "POST", body: JSON.stringify({ Signal: "SIGUSR1" }), headers: headers() });
    expect(r.status).toBe(200);
    const file = join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "signals");
    await eventually(() => existsSync(file) && readFileSync(file, "utf8").includes("usr1"), 10_000, 100);
    await sleep(500);
    expect(alive(pid)).toBe(true); // the monitor lives on: the task was not ended by the signal
    const a = (await getJson<any[]>(`${dev.url}/v1/job/sig-iso/allocations`)).body.find((x: any) => x.id === alloc.id);
    expect(a.clientStatus).toBe("running");
    await fetch(`${dev.url}/v1/job/sig-iso`, { method: "DELETE" });
  }, 60_000);

  test("an agent killed with -9 leaves the task running and takes it up again; a stop gives it its grace", async () => {
    const script = `trap 'sleep 1; echo graceful > "$CORRAL_TASK_DIR/term"; exit 0' TERM; sleep 600 & wait`;
    expect((await submit(dev.url, serviceJob("long", script))).status).toBe(200);
    const alloc = await runningAlloc(dev.url, "long");
    const pid = recordedPid(dev.dataDir, alloc.id);
    expect(readlinkSync(`/proc/${pid}/exe`)).toEndWith("bwrap");
    // bwrap itself runs as the task user: nothing that reads the job's command, args or env (LD_PRELOAD…) runs as root.
    expect(statSync(`/proc/${pid}`).uid).toBe(uidOf("nobody")!);
    const before = Date.now();
    await dev.kill("SIGKILL");
    await sleep(500);
    expect(alive(pid)).toBe(true);
    dev = await startCorral({ role: "dev", dataDir: dev.dataDir, config: CONFIG, env: AGENT_ENV });
    const back = await eventually(async () => {
      const a = (await getJson<any[]>(`${dev.url}/v1/job/long/allocations`)).body.find((x: any) => x.id === alloc.id);
      const ev = a?.taskStates?.t?.events?.filter((e: any) => e.type === "Reattached" && e.at > before).at(-1);
      return a?.clientStatus === "running" && ev && a;
    }, 30_000, 200);
    expect(back.taskStates.t.events.at(-1).message).toContain(`pid ${pid}`);
    expect(alive(pid)).toBe(true);

    // Stopped: SIGTERM reaches the task (not only bwrap), which finishes its trap within kill_timeout.
    await fetch(`${dev.url}/v1/job/long`, { method: "DELETE" });
    await eventually(() => !alive(pid), 20_000, 100);
    const termFile = join(dev.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "term");
    await eventually(async () => {
      const a = (await getJson<any[]>(`${dev.url}/v1/job/long/allocations`)).body.find((x: any) => x.id === alloc.id);
      return a?.clientStatus === "complete";
    }, 20_000, 200);
    expect(existsSync(termFile) && readFileSync(termFile, "utf8")).toBe("graceful\n");
  }, 120_000);
});

describe.skipIf(!CAN)("a node that cannot isolate", () => {
  test("says driver.exec.isolation = \"none\"; a task requiring isolation is not placed there, with the reason; best-effort runs unisolated", async () => {
    const plain = await startCorral({ role: "dev", dataDir: dataDirIn(), config: `${CONFIG}bwrap = ""\n` });
    await eventually(async () => (await getJson<any[]>(plain.url + "/v1/nodes")).body.length === 1, 15_000);
    const node = (await getJson<any[]>(plain.url + "/v1/nodes")).body[0];
    const full = (await getJson<any>(`${plain.url}/v1/node/${node.id ?? node.ID}`)).body;
    expect((full.attributes ?? full.Attributes)["driver.exec.isolation"]).toBe("none");
    for (const [id, task] of [["req", { isolation: "required" }], ["nonet", { network_mode: "none" }]] as const) {
      const reg = await submit(plain.url, shellJob(id, "true", task));
      expect(reg.status, id).toBe(200);
      const ev = await eventually(async () => {
        const e = (await getJson(`${plain.url}/v1/evaluation/${reg.body.evalId}`)).body;
        return e.status !== "pending" && e;
      }, 15_000);
      expect(ev.status, id).toBe("blocked");
      expect(Object.keys(ev.failedGroups[0].metrics.reasons), id).toEqual([
        `driver: task t requires isolation; the node's exec driver cannot isolate (driver.exec.isolation is not "namespaces")`,
      ]);
    }
    expect((await submit(plain.url, shellJob("best", "ls /proc | head -c 0; echo ran"))).status).toBe(200);
    const best = await finishedAlloc(plain.url, "best");
    expect(best.clientStatus).toBe("complete");
    expect(best.taskStates.t.events.find((e: any) => e.type === "Started").message).not.toContain("isolated");
    // Spec errors: raw_exec is never isolated; no network needs isolation.
    const raw = await submit(plain.url, shellJob("raw-iso", "true", { driver: "raw_exec", isolation: "required" }));
    expect(raw.status).toBe(400);
    expect(raw.body.errors[0].path).toBe("groups[0].tasks[0].isolation");
    const mixed = await submit(plain.url, shellJob("mixed", "true", { isolation: "best-effort", network_mode: "none" }));
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors[0].path).toBe("groups[0].tasks[0].network_mode");
    await plain.kill();
  }, 90_000);
});
