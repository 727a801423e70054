// Resource limits of task processes: cgroup v2 when usable, otherwise the
// RSS watchdog. One object per agent; tasks attach after spawn and detach
// after exit, learning whether the exit was an out-of-memory kill.
import type { Logger } from "../../core/sdk/index.ts";
import { CgroupManager, prepareCgroups } from "./cgroup.ts";
import { MemoryWatchdog } from "./memory.ts";
import { groupMembers } from "./group-signal.ts";

export interface TaskKey {
  allocId: string;
  task: string;
}

export interface TaskLimits {
  readonly mode: "cgroup" | "watchdog";
  /** Applies the limits to a freshly spawned process (its own process group). onOom: the watchdog is killing it. */
  attach(key: TaskKey, pid: number, memoryBytes: number, cpuMhz: number, onOom: () => void): void;
  /** The process exited: release, and say whether the kernel killed it for memory (cgroup mode). */
  detach(key: TaskKey): boolean;
  /**
   * The agent lets go of a process that goes on running (plugin stopping):
   * stop watching it, keep its cgroup (and so its limits) in place. The
   * next agent attaches to the same leaf again.
   */
  release(key: TaskKey): void;
  /** Watchdog mode: sample once (the plugin calls this every watchdog_interval). */
  tick(): void;
}

const k = (key: TaskKey) => `${key.allocId}/${key.task}`;

export function createLimits(cgroupRoot: string, log: Logger, watchdog = new MemoryWatchdog()): TaskLimits {
  const support = prepareCgroups(cgroupRoot);
  if (support.ok) {
    log.info("task limits: cgroup v2", { root: cgroupRoot });
    return cgroupLimits(new CgroupManager(cgroupRoot), log, watchdog);
  }
  log.info("task limits: RSS watchdog (cgroup v2 not usable)", { reason: support.reason });
  return watchdogLimits(watchdog);
}

export function watchdogLimits(watchdog: MemoryWatchdog): TaskLimits {
  return {
    mode: "watchdog",
    attach: (key, pid, memoryBytes, _cpu, onOom) => watchdog.watch(k(key), pid, memoryBytes, onOom),
    detach: (key) => {
      watchdog.unwatch(k(key));
      return false;
    },
    release: (key) => watchdog.unwatch(k(key)),
    tick: () => void watchdog.tick(),
  };
}

/** A leaf per task; if moving a process into it fails, that task falls back to the watchdog. */
function cgroupLimits(cg: CgroupManager, log: Logger, watchdog: MemoryWatchdog): TaskLimits {
  const leaves = new Map<string, { leaf: string; oomBefore: number }>();
  return {
    mode: "cgroup",
    attach(key, pid, memoryBytes, cpuMhz, onOom) {
      try {
        const leaf = cg.create(key.allocId, key.task, memoryBytes, cpuMhz);
        cg.addProcess(leaf, pid);
        // An isolated task's leader is bwrap, which forks at once (sandbox.ts): what it forked before the
        // move is still in the agent's cgroup. Its group follows (twice: a fork may land between reads).
        for (let pass = 0; pass < 2; pass++) {
          for (const m of groupMembers(pid)) {
            try {
              if (m !== pid) cg.addProcess(leaf, m);
            } catch {
              // ended meanwhile
            }
          }
        }
        leaves.set(k(key), { leaf, oomBefore: cg.oomKills(leaf) });
      } catch (err) {
        log.warn("cgroup setup failed; watching memory instead", { alloc: key.allocId, task: key.task, err });
        watchdog.watch(k(key), pid, memoryBytes, onOom);
      }
    },
    detach(key) {
      watchdog.unwatch(k(key));
      const l = leaves.get(k(key));
      if (!l) return false;
      leaves.delete(k(key));
      const oom = cg.oomKills(l.leaf) > l.oomBefore;
      cg.remove(key.allocId, key.task);
      return oom;
    },
    release(key) {
      watchdog.unwatch(k(key));
      leaves.delete(k(key));
    },
    tick: () => void watchdog.tick(),
  };
}
