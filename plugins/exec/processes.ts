// What this agent knows about its tasks, kept in <dataDir>/exec/processes.json
// (written atomically on every change) so that it survives the agent:
// per task, the pid and start time of its process (absent while it waits to
// restart) and its restart counters. Tasks are not the agent's to kill when
// it stops (docs/exec.md, "Tasks outlive the agent"): a restarted agent, or
// a reloaded exec plugin, reads this file and adopts the processes still
// running (same pid, same start time: a pid since reused by an unrelated
// process is left alone), restarts by policy those that died meanwhile,
// and kills only those whose allocation is no longer wanted here.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { killGroup } from "./memory.ts";
import { stillRunning } from "./exits.ts";

/** One task as recorded: its process (if one runs) and its restart counters. */
export interface ProcessEntry {
  allocId: string;
  task: string;
  pid?: number;
  startTicks?: number;
  restarts: number;
  ooms: number;
  /** The restart policy's current window (restart.ts), so a restarted agent keeps counting in it. */
  windowStart?: number;
  windowCount?: number;
}

export type TaskRecord = Omit<ProcessEntry, "allocId" | "task">;

export class ProcessFile {
  private entries = new Map<string, ProcessEntry>();

  constructor(private file: string) {}

  /** Entries of the previous run, now also this run's (a corrupt file counts as none). Version 1 files (pid and start time only) read as no restarts. */
  load(): ProcessEntry[] {
    if (!existsSync(this.file)) return [];
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8")) as { version: number; tasks: Partial<ProcessEntry>[] };
      const list = Array.isArray(data.tasks) ? data.tasks : [];
      const out = list
        .filter((e) => typeof e.allocId === "string" && typeof e.task === "string")
        .map((e) => ({
          allocId: e.allocId!, task: e.task!, restarts: Number(e.restarts) || 0, ooms: Number(e.ooms) || 0,
          ...(Number.isInteger(e.pid) && e.pid! > 0 ? { pid: e.pid, startTicks: Number(e.startTicks) } : {}),
          ...(e.windowStart !== undefined ? { windowStart: Number(e.windowStart), windowCount: Number(e.windowCount) || 0 } : {}),
        }));
      for (const e of out) this.entries.set(`${e.allocId}/${e.task}`, e);
      return out;
    } catch {
      return [];
    }
  }

  set(allocId: string, task: string, rec: TaskRecord): void {
    this.entries.set(`${allocId}/${task}`, { allocId, task, ...rec });
    this.save();
  }

  /** The allocation is over here (stopped, finished, gone): nothing of it to adopt any more. */
  forget(allocId: string): void {
    let changed = false;
    for (const [k, e] of this.entries) if (e.allocId === allocId) changed = this.entries.delete(k) || changed;
    if (changed) this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    // 0600: it names every allocation here, and exec/ is traversable by task users.
    writeFileSync(tmp, JSON.stringify({ version: 2, tasks: [...this.entries.values()] }), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** Whether the recorded process still runs (same pid, same start time). */
export function survives(e: ProcessEntry): boolean {
  return e.pid !== undefined && e.startTicks !== undefined && stillRunning(e.pid, e.startTicks);
}

/** Kills the process groups of recorded tasks still running; resolves when they are gone or SIGKILLed. */
export async function killRecorded(entries: readonly ProcessEntry[], killTimeoutMs: number, kill: (pgid: number, sig: NodeJS.Signals) => void = killGroup): Promise<ProcessEntry[]> {
  const found = entries.filter(survives);
  for (const e of found) kill(e.pid!, "SIGTERM");
  const deadline = Date.now() + killTimeoutMs;
  while (Date.now() < deadline && found.some(survives)) await new Promise((r) => setTimeout(r, 50));
  for (const e of found) kill(e.pid!, "SIGKILL"); // whatever the task forked and left in its group goes too
  return found;
}
