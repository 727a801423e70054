// Whether a container ended by the kernel's OOM killer. runc makes the
// container's cgroup (…/corral/<alloc>.<task>/ctr, with the memory limit)
// and removes it when the container ends, counters and all; its parent
// stays and was charged with everything the container used (the memory
// controller charges up the hierarchy). So the parent tells: on cgroup v2
// its memory.events oom_kill (hierarchical there); on v1 (where OOM events
// are counted only where the victim was) its peak usage reaching the
// limit. The exec driver's task runner asks after every exit.
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";

export interface ContainerKey {
  allocId: string;
  task: string;
}

/** The cgroup of a task's container, relative to each hierarchy's root. */
export function cgroupParent(key: ContainerKey): string {
  return `/corral/${key.allocId}.${key.task}`;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The TaskLimits of container tasks (plugins/exec/limits.ts): the runtime enforces, this only reports. */
export class ContainerLimits {
  readonly mode = "cgroup" as const;
  private limits = new Map<string, number>();
  private seen = new Map<string, number>();

  constructor(private root = ROOT) {}

  private v2(): boolean {
    return existsSync(join(this.root, "cgroup.controllers"));
  }

  private memoryDir(key: ContainerKey): string {
    return this.v2() ? join(this.root, cgroupParent(key)) : join(this.root, "memory", cgroupParent(key));
  }

  private oomKills(key: ContainerKey): number {
    const m = /^oom_kill (\d+)$/m.exec(read(join(this.memoryDir(key), "memory.events")) ?? "");
    return m ? Number(m[1]) : 0;
  }

  attach(key: ContainerKey, _pid: number, memoryBytes: number): void {
    const k = `${key.allocId}/${key.task}`;
    this.limits.set(k, memoryBytes);
    if (this.v2()) this.seen.set(k, this.oomKills(key));
  }

  detach(key: ContainerKey): boolean {
    const k = `${key.allocId}/${key.task}`;
    const limit = this.limits.get(k);
    this.limits.delete(k);
    let oom = false;
    if (this.v2()) {
      oom = this.oomKills(key) > (this.seen.get(k) ?? 0);
    } else if (limit !== undefined) {
      const dir = this.memoryDir(key);
      const peak = Number(read(join(dir, "memory.max_usage_in_bytes")) ?? 0);
      oom = peak >= limit - 64 * 1024;
      try {
        writeFileSync(join(dir, "memory.max_usage_in_bytes"), "0"); // the next run starts from its own peak
      } catch {}
    }
    this.seen.delete(k);
    return oom;
  }

  release(key: ContainerKey): void {
    this.limits.delete(`${key.allocId}/${key.task}`);
  }

  tick(): void {}

  /** The task is over: its parent cgroups go (in every v1 hierarchy, or the one v2 tree). */
  remove(key: ContainerKey): void {
    const rel = cgroupParent(key);
    const dirs = this.v2() ? [join(this.root, rel)] : readdirSync(this.root).map((h) => join(this.root, h, rel));
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {}
    }
  }
}
