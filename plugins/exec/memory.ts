// Memory limits without cgroups: a watchdog that samples the resident
// memory of each task's process group and SIGKILLs the group when it holds
// more than the task's memory. The parsing and the decision are pure; the
// /proc reads are behind ProcReader so tests feed text.
//
// The sum covers every process of the task's process group (tasks start in
// their own group), so a task cannot escape the limit by forking. A burst
// that allocates faster than one interval can overshoot before it is seen:
// cgroups (cgroup.ts) are the hard limit, this is the fallback.
import { signalGroup } from "./group-signal.ts";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot the process started: with the pid, identifies it across pid reuse. */
  startTicks: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields count from the last ")". */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  const open = text.indexOf("(");
  if (close < 0 || open < 0) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).split(" ");
  const ppid = Number(f[1]);
  const pgrp = Number(f[2]);
  const startTicks = Number(f[19]);
  if (![pid, ppid, pgrp, startTicks].every(Number.isFinite)) return undefined;
  return { pid, ppid, pgrp, startTicks };
}

/** VmRSS of /proc/<pid>/status in bytes (0 for a zombie or a kernel thread). */
export function parseVmRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface ProcReader {
  pids(): number[];
  stat(pid: number): string | undefined;
  status(pid: number): string | undefined;
}

export const realProc: ProcReader = {
  pids: () => readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number),
  stat: (pid) => readOr(`/proc/${pid}/stat`),
  status: (pid) => readOr(`/proc/${pid}/status`),
};

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process exited meanwhile
  }
}

/** Resident bytes per process group, for the groups asked about. */
export function groupRss(proc: ProcReader, groups: ReadonlySet<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const g of groups) out.set(g, 0);
  if (groups.size === 0) return out;
  for (const pid of proc.pids()) {
    const text = proc.stat(pid);
    const st = text ? parseStat(text) : undefined;
    if (!st || !groups.has(st.pgrp)) continue;
    out.set(st.pgrp, out.get(st.pgrp)! + parseVmRssBytes(proc.status(pid) ?? ""));
  }
  return out;
}

interface Watched {
  pgid: number;
  limitBytes: number;
  onOom(rssBytes: number): void;
}

/** One sampler for every task of the agent: a single /proc scan per tick. */
export class MemoryWatchdog {
  private watched = new Map<string, Watched>();

  constructor(private proc: ProcReader = realProc, private kill: (pgid: number) => void = killGroup) {}

  watch(key: string, pgid: number, limitBytes: number, onOom: (rssBytes: number) => void): void {
    this.watched.set(key, { pgid, limitBytes, onOom });
  }

  unwatch(key: string): void {
    this.watched.delete(key);
  }

  get size(): number {
    return this.watched.size;
  }

  /** Samples once; kills and reports every group over its limit. Returns the keys killed. */
  tick(): string[] {
    if (this.watched.size === 0) return [];
    const rss = groupRss(this.proc, new Set([...this.watched.values()].map((w) => w.pgid)));
    const killed: string[] = [];
    for (const [key, w] of this.watched) {
      const used = rss.get(w.pgid) ?? 0;
      if (used <= w.limitBytes) continue;
      this.watched.delete(key);
      w.onOom(used); // before the kill: the exit that follows is then known to be an OOM kill
      this.kill(w.pgid);
      killed.push(key);
    }
    return killed;
  }
}

export function killGroup(pgid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  // An isolated task's leader is bwrap's monitor: group-signal.ts keeps it alive until the task ends.
  signalGroup(pgid, signal);
}
