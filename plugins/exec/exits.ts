// How a task's end is learned, whether or not this process is its parent.
//
// A task the agent spawned is its child: Node reports its exit code. The
// record of that exit is kept per process (not per plugin instance), so an
// exec plugin that is reloaded or disabled and enabled again — a new
// TaskRunner adopting the same pid in the same agent — still learns the real
// code. A task adopted after an agent restart is nobody's child here (init
// reaped it): it is watched through /proc (pid + start time, so a reused pid
// is not mistaken for it), and its exit status is unknown when it ends.
import type { ChildProcess } from "node:child_process";
import { parseStat, realProc, type ProcReader } from "./memory.ts";

export interface TaskExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The agent was not the process's parent: it only saw the process gone. */
  unknown?: boolean;
}

const children = new Map<number, { exit: Promise<TaskExit>; endedAt?: number; result?: TaskExit }>();
/** Ended children nobody asked about are forgotten after this long. */
const KEEP_ENDED_MS = 10 * 60_000;

/** Remembers a freshly spawned child's exit for whoever watches its pid later. */
export function trackChild(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  const rec: { exit: Promise<TaskExit>; endedAt?: number; result?: TaskExit } = {
    exit: new Promise<TaskExit>((resolve) => child.once("exit", (code, signal) => {
      rec.endedAt = Date.now();
      rec.result = { code, signal };
      resolve(rec.result);
    })),
  };
  children.set(pid, rec);
  const now = Date.now();
  for (const [p, r] of children) if (r.endedAt !== undefined && now - r.endedAt > KEEP_ENDED_MS) children.delete(p);
}

/** How a child of this process that nobody watched ended (the exec plugin was disabled meanwhile), if it did. */
/**
 * The exit of a child of this process that has ended (or is ending) but
 * whose exit event has not been delivered yet: the kernel may have reaped it
 * a moment before Node runs the "exit" callback. Undefined when pid is not a
 * tracked child.
 */
export function childExit(pid: number): Promise<TaskExit> | undefined {
  return children.get(pid)?.exit;
}

export function endedChild(pid: number): TaskExit | undefined {
  const rec = children.get(pid);
  if (rec?.result) children.delete(pid);
  return rec?.result;
}

/** Whether the process pid still runs and is the one that started at startTicks (not a zombie). */
export function stillRunning(pid: number, startTicks: number, proc: ProcReader = realProc): boolean {
  const text = proc.stat(pid);
  const st = text ? parseStat(text) : undefined;
  if (!st || st.startTicks !== startTicks) return false;
  // State is the field right after the command name; Z (zombie) and X (dead) have ended.
  const state = text!.slice(text!.lastIndexOf(")") + 2, text!.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export function startTicksOf(pid: number, proc: ProcReader = realProc): number | undefined {
  return parseStat(proc.stat(pid) ?? "")?.startTicks;
}

export interface ExitWatch {
  done: Promise<TaskExit>;
  /** Stop watching (the plugin is stopping): done never resolves. */
  cancel(): void;
}

/** Resolves when the task pid ends: with its exit code if it is our child, polling /proc otherwise. */
export function watchExit(pid: number, startTicks: number, pollMs = 250): ExitWatch {
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const own = children.get(pid);
  const done = new Promise<TaskExit>((resolve) => {
    if (own) {
      void own.exit.then((e) => {
        if (cancelled) return;
        children.delete(pid);
        resolve(e);
      });
      return;
    }
    const poll = () => {
      if (cancelled) return;
      if (!stillRunning(pid, startTicks)) return resolve({ code: null, signal: null, unknown: true });
      timer = setTimeout(poll, pollMs);
    };
    poll();
  });
  return {
    done,
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
