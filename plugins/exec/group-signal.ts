// Signals to a task's process group, aware of the sandbox (sandbox.ts).
//
// An isolated task's group leader is bubblewrap's monitor, which lives
// exactly as long as the task and hands on its exit status; it has no
// handler for SIGTERM (or SIGHUP, SIGUSR1...), so a signal sent to the whole
// group would kill it at once, the agent would take the task for ended and
// SIGKILL the group before the task had its grace. Such signals go to every
// member of the group but the monitor (bwrap's init in the task's PID
// namespace ignores them; the task gets them). SIGKILL goes to all.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";

/** Whether pid is bubblewrap (an isolated task's monitor). */
export function isSandboxMonitor(pid: number): boolean {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`)) === "bwrap";
  } catch {
    return false;
  }
}

/** The process group of a /proc/<pid>/stat line (field 5; the command may hold spaces and parentheses). */
export function pgidOfStat(stat: string): number | undefined {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const pgid = Number(rest[2]);
  return Number.isInteger(pgid) ? pgid : undefined;
}

/** Pids of the group's members, by reading /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (pgidOfStat(readFileSync(`/proc/${name}/stat`, "utf8")) === pgid) out.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // already gone
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  if (signal === "SIGKILL" || !isSandboxMonitor(pgid)) return send(-pgid, signal);
  for (const pid of groupMembers(pgid)) if (pid !== pgid) send(pid, signal);
}
