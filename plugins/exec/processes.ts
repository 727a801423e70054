// The task processes this agent started, kept in <dataDir>/exec/processes.json
// (pid and start time, written atomically on every change). corral does not
// reattach to tasks: their output pipes die with the agent. So when an agent
// starts and finds processes from its previous life still running (it was
// killed, or crashed), it kills their process groups (SIGTERM, then SIGKILL
// after kill_timeout) before running anything, and the allocations that are
// still wanted start afresh. The start time guards against pid reuse: a pid
// now held by an unrelated process is left alone.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { killGroup, parseStat, realProc, type ProcReader } from "./memory.ts";

interface Entry {
  allocId: string;
  task: string;
  pid: number;
  startTicks: number;
}

export class ProcessFile {
  private entries = new Map<string, Entry>();

  constructor(private file: string, private proc: ProcReader = realProc) {}

  /** Entries of the previous run (a corrupt file counts as none: nothing safe to kill). */
  load(): Entry[] {
    if (!existsSync(this.file)) return [];
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8")) as { version: number; tasks: Entry[] };
      return Array.isArray(data.tasks) ? data.tasks : [];
    } catch {
      return [];
    }
  }

  set(allocId: string, task: string, pid: number | undefined): void {
    const key = `${allocId}/${task}`;
    if (pid === undefined) this.entries.delete(key);
    else {
      const st = parseStat(this.proc.stat(pid) ?? "");
      this.entries.set(key, { allocId, task, pid, startTicks: st?.startTicks ?? -1 });
    }
    this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    // 0600: it names every allocation here, and exec/ is traversable by task users.
    writeFileSync(tmp, JSON.stringify({ version: 1, tasks: [...this.entries.values()] }), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /** Still-running processes of a previous run: the same pid with the same start time. */
  survivors(entries: readonly Entry[]): Entry[] {
    return entries.filter((e) => {
      const st = parseStat(this.proc.stat(e.pid) ?? "");
      return st !== undefined && st.startTicks === e.startTicks;
    });
  }

  /** Kills the process groups of a previous run's survivors; resolves when they are gone or SIGKILLed. */
  async reap(killTimeoutMs: number, kill: (pgid: number, sig: NodeJS.Signals) => void = killGroup): Promise<Entry[]> {
    const found = this.survivors(this.load());
    for (const e of found) kill(e.pid, "SIGTERM");
    const deadline = Date.now() + killTimeoutMs;
    while (Date.now() < deadline && this.survivors(found).length > 0) await new Promise((r) => setTimeout(r, 50));
    for (const e of found) kill(e.pid, "SIGKILL");
    this.entries.clear();
    this.save();
    return found;
  }
}
