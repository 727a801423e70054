// CPU time of a process from /proc/<pid>/stat (Linux), for the benchmarks
// that charge a server process for the work it did during a run.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * The fields of /proc/<pid>/stat from field 3 (state) on: index 11 is utime,
 * 12 stime, 13 cutime, 14 cstime. Cut after the last ")", as the command
 * name in parentheses may itself hold spaces or parentheses.
 */
export function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime + stime of a process, in clock ticks (see clockTicks). */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]);
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 if that fails). Asked once, on first use. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    let out = "";
    try {
      out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    } catch {
      // No getconf: Linux's USER_HZ is 100 almost everywhere.
    }
    ticksPerSecond = Number(out.trim()) || 100;
  }
  return ticksPerSecond;
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  return cpuTicks(pid) / clockTicks();
}
