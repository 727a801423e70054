// Memory and CPU limits with cgroup v2: one sub-cgroup per allocation under
// <cgroup_root>/corral, one leaf per task inside it (v2 keeps processes in
// leaves only). memory.max is the task's memory (swap off), cpu.weight its
// share of CPU under contention: weight = MHz / 10, so 1000 MHz is the
// kernel's default weight of 100 (range 1–10000). An OOM kill is read from
// the leaf's memory.events when the task exits.
//
// The process is moved into its leaf right after spawn (writing its pid to
// cgroup.procs); until then, for the first instructions of the program,
// the limit does not apply. corral has no helper binary to exec through.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type CgroupSupport = { ok: true } | { ok: false; reason: string };

function write(path: string, value: string): void {
  writeFileSync(path, value);
}

function enable(dir: string, controllers: string[]): void {
  const current = readOr(join(dir, "cgroup.subtree_control")).split(/\s+/);
  const missing = controllers.filter((c) => !current.includes(c));
  if (missing.length) write(join(dir, "cgroup.subtree_control"), missing.map((c) => "+" + c).join(" "));
}

function readOr(path: string, fallback = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** Whether cgroup v2 with the memory controller is usable at `root`; prepares <root>/corral. */
export function prepareCgroups(root: string): CgroupSupport {
  if (!root) return { ok: false, reason: "cgroup_root is empty" };
  const controllers = readOr(join(root, "cgroup.controllers"), "\0");
  if (controllers === "\0") return { ok: false, reason: `${root} is not a cgroup v2 mount` };
  if (!controllers.split(/\s+/).includes("memory")) return { ok: false, reason: `the memory controller is not available at ${root}` };
  try {
    const wanted = ["memory", ...(controllers.split(/\s+/).includes("cpu") ? ["cpu"] : [])];
    enable(root, wanted);
    mkdirSync(join(root, "corral"), { recursive: true });
    enable(join(root, "corral"), wanted);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot set up ${join(root, "corral")}: ${(err as Error).message}` };
  }
}

export function cpuWeight(cpuMhz: number): number {
  return Math.min(10_000, Math.max(1, Math.round(cpuMhz / 10)));
}

export class CgroupManager {
  constructor(private root: string) {}

  allocDir(allocId: string): string {
    return join(this.root, "corral", allocId);
  }

  /** Creates the task's leaf with its limits; returns its path. */
  create(allocId: string, task: string, memoryBytes: number, cpuMhz: number): string {
    const alloc = this.allocDir(allocId);
    mkdirSync(alloc, { recursive: true });
    const controllers = readOr(join(alloc, "cgroup.controllers")).split(/\s+/).filter((c) => c === "memory" || c === "cpu");
    if (controllers.length) enable(alloc, controllers);
    const leaf = join(alloc, task);
    mkdirSync(leaf, { recursive: true });
    write(join(leaf, "memory.max"), String(memoryBytes));
    if (existsSync(join(leaf, "memory.swap.max"))) write(join(leaf, "memory.swap.max"), "0");
    if (existsSync(join(leaf, "cpu.weight"))) write(join(leaf, "cpu.weight"), String(cpuWeight(cpuMhz)));
    return leaf;
  }

  addProcess(leaf: string, pid: number): void {
    write(join(leaf, "cgroup.procs"), String(pid));
  }

  /** OOM kills in the leaf so far (memory.events oom_kill). */
  oomKills(leaf: string): number {
    const m = /^oom_kill (\d+)$/m.exec(readOr(join(leaf, "memory.events")));
    return m ? Number(m[1]) : 0;
  }

  /** Kills whatever is left in the leaf and removes it (and the allocation's cgroup once empty). */
  remove(allocId: string, task: string): void {
    const leaf = join(this.allocDir(allocId), task);
    if (existsSync(join(leaf, "cgroup.kill"))) {
      try {
        write(join(leaf, "cgroup.kill"), "1");
      } catch {
        // already empty
      }
    } else {
      for (const pid of readOr(join(leaf, "cgroup.procs")).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    for (const dir of [leaf, this.allocDir(allocId)]) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty yet (another task), or already gone
      }
    }
  }
}
