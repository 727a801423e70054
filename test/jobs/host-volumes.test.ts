// Host volumes with real processes (issue 16.8): a dev node (agent as root,
// tasks as nobody) whose config declares two host volumes. A task writes
// into its volume; its allocation is stopped (`corral alloc stop`) and the
// replacement on the same node finds the file; purging the job deletes the
// allocation folders but never the host's data (no rm through a bind
// mount). A job asking for a volume no node has is not placed and `job
// status` says why; a read-only mount refuses writes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, ENTRY, ROOT, sleep, type CorralProcess } from "../helpers/proc.ts";
import { BUN, allocs, reapTasks, submit, waitRunning } from "./cluster-helpers.ts";
import { loadConfig } from "../../core/config/load.ts";
import { mountsUnder } from "../../plugins/exec/volumes.ts";

let dev: CorralProcess;
const hostData = join(tempDir("corral-hostvol-"), "data");
const hostRo = join(tempDir("corral-hostvol-"), "ro");

function cli(...args: string[]) {
  const r = spawnSync(BUN, [ENTRY, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CORRAL_ADDR: dev.url }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  for (const d of [hostData, hostRo]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o777); // the operator's part: tasks run as nobody
  }
  dev = await startCorral({
    role: "dev",
    config: [
      `[node]\nname = "vol-node"`,
      `[node.host_volumes.data]\npath = "${hostData}"`,
      `[node.host_volumes.ro]\npath = "${hostRo}"\nread_only = true`,
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
  for (const m of mountsUnder(dev.dataDir)) spawnSync("umount", ["-l", m]);
});

function volumeJob(id: string, opts: { type?: string; source?: string; mountReadOnly?: boolean; script: string; restart?: Record<string, unknown> }) {
  return {
    id, type: opts.type ?? "service",
    groups: [{
      name: "g", count: 1, restart: opts.restart ?? { attempts: 0, mode: "fail" }, reschedule: { attempts: 0 },
      volumes: { store: { type: "host", source: opts.source ?? "data" } },
      tasks: [{
        name: "t", command: "/bin/sh", args: ["-c", opts.script], resources: { cpu: 50, memory: 64 },
        volume_mounts: [{ volume: "store", destination: "data", read_only: opts.mountReadOnly ?? false }],
      }],
    }],
  };
}

describe("host volumes", () => {
  test("the node announces its volumes; a missing path is a config error", async () => {
    const [node] = (await getJson<any[]>(dev.url + "/v1/nodes")).body;
    const full = (await getJson<any>(`${dev.url}/v1/node/${node.id}`)).body;
    expect(full.attributes["host_volume.data.path"]).toBe(hostData);
    expect(full.attributes["host_volume.ro.read_only"]).toBe("true");
    const file = join(tempDir("corral-hostvol-cfg-"), "corral.toml");
    await Bun.write(file, `[node.host_volumes.gone]\npath = "/nonexistent/corral-volume"\n`);
    expect(() => loadConfig({ role: "dev", file, env: {}, builtinPlugins: [], defaultName: "h" })).toThrow(/host_volumes\.gone\.path.*\/nonexistent\/corral-volume does not exist/s);
    // From the environment: name=path pairs, read-write.
    const fromEnv = loadConfig({ role: "dev", env: { CORRAL_NODE_HOST_VOLUMES: `data=${hostData}` }, builtinPlugins: [], defaultName: "h" });
    expect(fromEnv.node.hostVolumes).toEqual({ data: { path: hostData, readOnly: false } });
  });

  test("a file written into the volume survives the allocation being replaced on the same node, and the job being purged", async () => {
    const script = `echo "$CORRAL_ALLOC_ID" >> data/allocs.txt && exec sleep 600`;
    await submit(dev.url, volumeJob("writer", { script }));
    const [first] = await waitRunning(dev.url, "writer", 1, 30_000);
    await eventually(() => existsSync(join(hostData, "allocs.txt")) && readFileSync(join(hostData, "allocs.txt"), "utf8").includes(first.id), 10_000);
    const taskDir = join(dev.dataDir, "exec", "allocs", first.id, "tasks", "t");
    expect(mountsUnder(taskDir)).toEqual([join(taskDir, "data")]);

    const stopped = cli("alloc", "stop", first.id);
    expect(stopped.code, stopped.err).toBe(0);
    const second = await eventually(async () => (await allocs(dev.url, "writer")).find((a) => a.id !== first.id && a.clientStatus === "running"), 30_000);
    await eventually(() => readFileSync(join(hostData, "allocs.txt"), "utf8").includes(second.id), 10_000);
    expect(readFileSync(join(hostData, "allocs.txt"), "utf8")).toBe(`${first.id}\n${second.id}\n`);
    // The stopped allocation's bind mount is gone; the host folder is untouched.
    await eventually(() => mountsUnder(taskDir).length === 0, 10_000);

    // Purged: the agent deletes the allocation folders, never through the mount into the host's folder.
    await getJson(`${dev.url}/v1/job/writer?purge`, { method: "DELETE" });
    const secondDir = join(dev.dataDir, "exec", "allocs", second.id);
    // A purge deletes the allocation rows; the deletion moves the node's allocation index (docs/exec.md), so the
    // agent's blocking query answers at once: well within its 30 s wait.
    await eventually(() => !existsSync(secondDir), 10_000);
    expect(readFileSync(join(hostData, "allocs.txt"), "utf8")).toBe(`${first.id}\n${second.id}\n`);
  }, 90_000);

  test("a job asking for a volume no node has is not placed, and job status says why", async () => {
    await submit(dev.url, volumeJob("novol", { source: "nope", script: "sleep 600" }));
    await sleep(1000);
    expect((await allocs(dev.url, "novol")).filter((a) => a.desiredStatus === "run")).toEqual([]);
    const status = await eventually(() => {
      const r = cli("job", "status", "novol");
      return r.out.includes("Placement Failure") && r.out;
    }, 20_000, 300);
    expect(status).toContain('Constraint `missing host volume "nope"`: 1 node excluded by filter');
    // Asking to write on a read-only host volume: not placed either.
    await submit(dev.url, volumeJob("rowrite", { source: "ro", script: "sleep 600" }));
    const ro = await eventually(() => {
      const r = cli("job", "status", "rowrite");
      return r.out.includes("Placement Failure") && r.out;
    }, 20_000, 300);
    expect(ro).toContain('Constraint `host volume "ro" is read-only`: 1 node excluded by filter');
  }, 60_000);

  test("a read-only mount refuses writes", async () => {
    const script = `if echo x > data/ro-attempt.txt; then echo WROTE; else echo REFUSED; fi; cat data/allocs.txt >/dev/null && echo READ`;
    await submit(dev.url, volumeJob("reader", { type: "batch", mountReadOnly: true, script }));
    const a = await eventually(async () => (await allocs(dev.url, "reader")).find((x) => x.clientStatus === "complete" || x.clientStatus === "failed"), 30_000);
    expect(a.clientStatus, JSON.stringify(a.taskStates)).toBe("complete");
    const out = readFileSync(join(dev.dataDir, "exec", "allocs", a.id, "logs", "t.stdout.log"), "utf8");
    expect(out).toBe("REFUSED\nREAD\n");
    expect(existsSync(join(hostData, "ro-attempt.txt"))).toBe(false);
  }, 60_000);
});
