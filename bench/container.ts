// Container start benchmark (issue 17): how long from `job run` (POST
// /v1/jobs on a dev node) until the container's process runs, for a cold
// image (the first allocation pulls and unpacks it) and a warm one (cached
// blobs and snapshot), against `runc run` of the same bundle directly (the
// floor: what the runtime alone costs), all in this one run.
//
// "Runs" is the container's own first output line reaching its stdout log
// file (polled every 2 ms, the same way for corral and for the floor), not
// the API's `running`: the agent reports a task running when it has spawned
// runc, before runc has created the container. The API's time is reported
// too (warm_running_p50_ms, the task's `Started` event).
//
// Prints one JSON line on stdout:
//   cold_ms          the first allocation (pull + unpack + start)
//   warm_p50_ms      median of ALLOCS warm allocations, one after the other
//   warm_p99_ms      their 99th percentile (nearest rank)
//   floor_p50_ms     median of ALLOCS `runc run`s of the bundle corral wrote
//   warm_vs_floor    warm_p50 / (1.5 × floor_p50 + 100): the goal is ≤ 1.0
// and on stderr where a warm start's time goes (median offsets of the task's
// events from the POST, and the driver's own prepare timings).
//
// Needs root, runc, docker-registry, skopeo and busybox-static (Debian).
// Usage: npx bun bench/container.ts [--allocs N]
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { registryToolsMissing, startRegistry, type Registry } from "../test/container/registry-helpers.ts";
import { allocs, submit } from "../test/jobs/cluster-helpers.ts";
import { cleanup, eventually, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../test/helpers/proc.ts";
import { numberFlag } from "./support/args.ts";
import { pushBusyboxImage } from "./support/container-image.ts";

const ALLOCS = Math.max(1, Math.floor(numberFlag("allocs", 20)));
/** What the container runs: a line out (the moment it counts as running), then a short wait so its bundle can be read. */
const SCRIPT = "echo up; sleep 0.1";
const POLL_MS = 2;
const RUNC = ["/usr/sbin/runc", "/usr/bin/runc"].find(existsSync);

const missing = registryToolsMissing() ?? (process.getuid?.() !== 0 ? "containers need root" : undefined) ?? (RUNC ? undefined : "runc is not installed (apt package runc)");
if (missing) {
  console.error(`bench/container: cannot run: ${missing}`);
  process.exit(3);
}

const dirs: string[] = [];
let reg: Registry | undefined;
let dev: CorralProcess | undefined;
const FLOOR_CGROUP = `corral-bench-${process.pid}`;
const floorState = join(tempDir("corral-ctrbench-state-"), "runc");
dirs.push(floorState);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);
const round = (x: number) => Math.round(x * 10) / 10;

/** Polls until `f` returns something (every POLL_MS), or throws after `ms`. */
async function until<T>(f: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

const nonEmpty = (f: string) => {
  try {
    return statSync(f).size > 0 ? true : undefined;
  } catch {
    return undefined;
  }
};

function containerJob(id: string, image: string) {
  return {
    id, type: "batch",
    groups: [{
      name: "g", count: 1,
      restart: { attempts: 0, delay: "1s", interval: "10m", mode: "fail" },
      reschedule: { attempts: 0, unlimited: false },
      tasks: [{ name: "t", driver: "container", image, args: [SCRIPT], resources: { cpu: 100, memory: 64 } }],
    }],
  };
}

interface Start {
  ms: number;
  /** Offsets (ms from the POST) of the task's events, by type (the first of each). */
  events: Record<string, number>;
  prepared: string;
  bundleConfig?: any;
}

/** Runs one allocation of `image` as job `jobId` and times it. */
async function startOnce(node: CorralProcess, jobId: string, image: string, keepBundle: boolean): Promise<Start> {
  const allocsDir = join(node.dataDir, "exec", "allocs");
  const before = new Set(existsSync(allocsDir) ? readdirSync(allocsDir) : []);
  const t0 = Date.now();
  await submit(node.url, containerJob(jobId, image));
  const allocId = await until(() => (existsSync(allocsDir) ? readdirSync(allocsDir).find((d) => !before.has(d)) : undefined), 120_000, `${jobId}'s allocation folder`);
  await until(() => nonEmpty(join(allocsDir, allocId, "logs", "t.stdout.log")), 300_000, `${jobId}'s first output`);
  const ms = Date.now() - t0;
  let bundleConfig: any;
  if (keepBundle) bundleConfig = JSON.parse(readFileSync(join(allocsDir, allocId, "containers", "t", "config.json"), "utf8"));
  const done = await eventually(async () => {
    const a = (await allocs(node.url, jobId)).find((x) => x.id === allocId);
    return a && ["complete", "failed", "lost"].includes(a.clientStatus) && a;
  }, 60_000, 50);
  if (done.clientStatus !== "complete") throw new Error(`${jobId} ended ${done.clientStatus}: ${JSON.stringify(done.taskStates?.t?.events?.slice(-3))}`);
  // The plan's time (the leader's clock, this machine's): the allocation was placed then.
  const events: Record<string, number> = typeof done.createdAt === "number" ? { placed: done.createdAt - t0 } : {};
  let prepared = "";
  for (const e of done.taskStates.t.events as { at: number; type: string; message: string }[]) {
    if (!(e.type in events)) events[e.type] = e.at - t0;
    if (e.type === "Prepared") prepared = e.message;
  }
  return { ms, events, prepared, bundleConfig };
}

/** `runc run` of corral's bundle (its config.json, a root over the same snapshot), `n` times; the times to first output. */
async function floorRuns(node: CorralProcess, config: any, n: number): Promise<number[]> {
  const images = join(node.dataDir, "container", "images");
  const snapshot = readdirSync(images).map((d) => join(images, d, "rootfs")).find((p) => existsSync(join(p, "bin", "busybox")));
  if (!snapshot) throw new Error(`no unpacked image under ${images}`);
  const bundle = tempDir("corral-ctrbench-floor-");
  dirs.push(bundle);
  const local = join(bundle, "local");
  for (const d of ["rootfs", "upper", "work", "local"]) mkdirSync(join(bundle, d), { recursive: true });
  const m = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${snapshot},upperdir=${join(bundle, "upper")},workdir=${join(bundle, "work")}`, join(bundle, "rootfs")], { encoding: "utf8" });
  if (m.status !== 0) throw new Error(`overlay mount for the floor: ${m.stderr}`);
  try {
    // The same config.json, its host paths moved off the finished allocation.
    config.root.path = join(bundle, "rootfs");
    for (const mt of config.mounts ?? []) if (typeof mt.source === "string" && mt.source.startsWith(node.dataDir)) mt.source = local;
    // The allocation's network namespace is gone with it: runc makes a fresh one per run instead (the
    // floor then skips the veth and port proxy corral sets up, which counts against corral's time).
    for (const ns of config.linux?.namespaces ?? []) if (ns.type === "network") delete ns.path;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      // A fresh cgroup each run, two levels deep as corral's (/corral/<alloc>.<task>/ctr): creating it is part of a start.
      config.linux.cgroupsPath = `/${FLOOR_CGROUP}/${i}/ctr`;
      writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
      const log = join(bundle, `out-${i}.log`);
      const fd = openSync(log, "w");
      const t0 = Date.now();
      const p = spawn(RUNC!, ["--root", floorState, "run", "--no-new-keyring", "--bundle", bundle, `corral-bench-floor-${process.pid}-${i}`], { stdio: ["ignore", fd, fd] });
      closeSync(fd);
      const exited = new Promise<number | null>((r) => p.once("exit", (c) => r(c)));
      await until(() => nonEmpty(log), 60_000, "the floor container's output");
      times.push(Date.now() - t0);
      const code = await exited;
      if (code !== 0) throw new Error(`runc run exited ${code}: ${readFileSync(log, "utf8").slice(0, 500)}`);
    }
    return times;
  } finally {
    spawnSync("umount", ["-l", join(bundle, "rootfs")]);
  }
}

/**
 * Where a warm start's time goes, medians over the runs: the POST to the
 * plan that placed the allocation (API, evaluation, scheduling), the plan to
 * the agent's first event (raft commit, the agent's allocation watch and
 * reconcile), the driver's prepare (its own timings, from the Prepared event),
 * prepared to runc spawned, and runc spawned to the container's first output
 * (runc create and start, the shell).
 */
function phases(runs: Start[]): Record<string, number> {
  const rows = runs.map((w) => {
    const e = w.events;
    const row: Record<string, number> = {
      to_placed: e.placed!,
      placed_to_agent: e["Pulling Image"]! - e.placed!,
      prepare: e.Prepared! - e["Pulling Image"]!,
      prepared_to_spawn: e.Started! - e.Prepared!,
      spawn_to_output: w.ms - e.Started!,
    };
    for (const m of w.prepared.matchAll(/([a-z][a-z ]*?) (\d+) ms/g)) row[`prepare.${m[1]!.replace(/ /g, "_")}`] = Number(m[2]);
    return row;
  });
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, median(rows.filter((r) => Number.isFinite(r[k])).map((r) => r[k]!))]));
}

async function main(): Promise<void> {
  const d = tempDir("corral-ctrbench-");
  dirs.push(d);
  reg = await startRegistry(d);
  const image = await pushBusyboxImage(d, reg.host);
  dev = await startCorral({
    role: "dev",
    config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "2s"\ncontainer_insecure_registries = ["${reg.host}"]\n`,
  });
  dirs.push(dev.dataDir);
  const node = dev;
  await eventually(async () => {
    const list = (await getJson<any[]>(`${node.url}/v1/nodes`)).body;
    if (list.length !== 1) return false;
    const n = (await getJson<any>(`${node.url}/v1/node/${list[0].id}`)).body;
    return n.status === "ready" && n.attributes?.["driver.container.runtime"] && n;
  }, 30_000, 100);

  const cold = await startOnce(node, "cold", image, false);
  console.error(`cold: ${cold.ms} ms (${cold.prepared})`);
  const warm: Start[] = [];
  for (let i = 0; i < ALLOCS; i++) warm.push(await startOnce(node, `warm-${i}`, image, i === ALLOCS - 1));
  const floor = await floorRuns(node, warm.at(-1)!.bundleConfig, ALLOCS);

  const ws = warm.map((w) => w.ms).sort((a, b) => a - b);
  const warmP50 = pct(ws, 50);
  const floorP50 = median(floor);
  // Where a warm start goes: median offset of each event from the POST.
  const types = [...new Set(warm.flatMap((w) => Object.keys(w.events)))];
  const offsets = Object.fromEntries(types.map((t) => [t, median(warm.filter((w) => t in w.events).map((w) => w.events[t]!))]));
  console.error(`warm start, median ms from POST: ${JSON.stringify(offsets)}; first output ${warmP50}`);
  console.error(`warm start phases (medians, ms): ${JSON.stringify(phases(warm))}`);
  console.error(`warm all: ${JSON.stringify(warm.map((w) => w.ms))}; floor all: ${JSON.stringify(floor)}`);
  console.log(JSON.stringify({
    cold_ms: cold.ms,
    warm_p50_ms: warmP50,
    warm_p99_ms: pct(ws, 99),
    floor_p50_ms: floorP50,
    warm_vs_floor: Math.round((warmP50 / (1.5 * floorP50 + 100)) * 1000) / 1000,
    warm_running_p50_ms: offsets.Started ?? null,
    allocs: ALLOCS,
    load1: round(loadavg()[0]!),
  }));
}

/** Removes /<name> and the empty folders under it from every cgroup hierarchy (v1: one per controller; v2: one). */
function removeCgroupTree(name: string): void {
  const roots = existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h));
  const rm = (dir: string) => {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
      rmdirSync(dir);
    } catch {}
  };
  for (const r of roots) if (existsSync(join(r, name))) rm(join(r, name));
}

async function teardown(): Promise<void> {
  await killAll();
  for (const state of [floorState, ...(dev ? [join(dev.dataDir, "container", "state")] : [])]) {
    const list = spawnSync(RUNC!, ["--root", state, "list", "-q"], { encoding: "utf8" });
    for (const id of (list.stdout ?? "").split("\n").filter(Boolean)) spawnSync(RUNC!, ["--root", state, "delete", "--force", id]);
  }
  if (dev) spawnSync("sh", ["-c", `grep ' ${dev.dataDir}' /proc/self/mounts | cut -d' ' -f2 | xargs -r umount -l`]);
  // The floor's cgroups (runc removes each run's leaf, not the folders above it), in every hierarchy.
  removeCgroupTree(FLOOR_CGROUP);
  await reg?.stop();
  for (const dir of dirs) cleanup(dir);
}

let code = 0;
try {
  await main();
} catch (err) {
  console.error(`bench/container: ${(err as Error).stack ?? err}`);
  code = 1;
} finally {
  await teardown();
}
process.exit(code);
