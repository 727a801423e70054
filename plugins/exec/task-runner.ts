// One task of an allocation as a real process: spawned without a shell
// (command and args as given), in its own process group, output into
// rotating log files, memory and CPU limited (limits.ts), restarted by the
// group's restart policy (restart.ts). Stopping sends SIGTERM to the
// process group, waits kill_timeout, then SIGKILL.
//
// State changes go to onChange as a whole TaskState; the allocation runner
// decides what to report.
import { spawn, type ChildProcess } from "node:child_process";
import type { RestartPolicy, Task } from "../../core/scheduler/index.ts";
import type { TaskState } from "../../core/store/schema-jobs.ts";
import { killGroup } from "./memory.ts";
import { RestartTracker } from "./restart.ts";
import type { RotatingLog } from "./logs.ts";
import type { TaskLimits } from "./limits.ts";
import { formatDuration } from "../../core/config/duration.ts";

/** Events kept per task (the newest). */
export const MAX_TASK_EVENTS = 10;

export interface TaskRunnerDeps {
  allocId: string;
  task: Task;
  batch: boolean;
  restart: RestartPolicy;
  env: Record<string, string>;
  cwd: string;
  stdout: RotatingLog;
  stderr: RotatingLog;
  killTimeoutMs: number;
  limits: TaskLimits;
  now(): number;
  onChange(state: TaskState): void;
  /** A process started (pid) or ended (undefined): the plugin's process file tracks them. */
  onProcess(pid: number | undefined): void;
  spawnFn?: typeof spawn;
  /** The user and group the process runs as (users.ts); absent: the agent's. */
  runAs?: { uid: number; gid: number };
  /** Why this task may not run on this node: it fails at once, without restarts. */
  refused?: string;
}

export function initialTaskState(): TaskState {
  return { state: "pending", failed: false, restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt: 0, finishedAt: 0, events: [] };
}

export class TaskRunner {
  state: TaskState = initialTaskState();
  private child?: ChildProcess;
  private tracker: RestartTracker;
  private stopping = false;
  private oomKilled = false;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private exited?: () => void;
  private finished!: () => void;
  /** Resolves when the task is dead for good (completed, failed, or stopped). */
  readonly done: Promise<void>;

  constructor(private d: TaskRunnerDeps) {
    this.tracker = new RestartTracker(d.restart, d.batch);
    this.done = new Promise((r) => (this.finished = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopping) return;
    const { task } = this.d;
    if (this.d.refused) {
      // A refusal is the node's configuration, not a crash: restarting changes nothing.
      this.set({ state: "dead", failed: true, finishedAt: this.d.now() }, "Setup Failure", `not started: ${this.d.refused}`);
      return this.finished();
    }
    let child: ChildProcess;
    try {
      // uid/gid also drop the agent's supplementary groups (setgroups before setuid).
      child = (this.d.spawnFn ?? spawn)(task.command, task.args, {
        cwd: this.d.cwd, env: this.d.env, stdio: ["ignore", "pipe", "pipe"], detached: true,
        ...(this.d.runAs ? { uid: this.d.runAs.uid, gid: this.d.runAs.gid } : {}),
      });
    } catch (err) {
      return this.exitedWith(null, null, `could not start ${task.command}: ${(err as Error).message}`);
    }
    this.child = child;
    child.stdout!.on("data", (b: Buffer) => this.d.stdout.write(b));
    child.stderr!.on("data", (b: Buffer) => this.d.stderr.write(b));
    child.once("error", (err) => {
      // ENOENT and friends: no process was created, so no "exit" follows.
      if (child.pid === undefined) this.exitedWith(null, null, `could not start ${task.command}: ${err.message}`);
    });
    child.once("exit", (code, signal) => this.exitedWith(code, signal));
    if (child.pid === undefined) return;
    this.oomKilled = false;
    this.d.limits.attach({ allocId: this.d.allocId, task: task.name }, child.pid, task.resources.memoryMb * 1024 * 1024, task.resources.cpuMhz, () => {
      this.oomKilled = true;
    });
    this.d.onProcess(child.pid);
    this.set({ state: "running", startedAt: this.d.now(), exitCode: null }, "Started", `pid ${child.pid}`);
  }

  private exitedWith(code: number | null, signal: NodeJS.Signals | null, startError?: string): void {
    const pid = this.child?.pid;
    this.child = undefined;
    const kernelOom = pid !== undefined && this.d.limits.detach({ allocId: this.d.allocId, task: this.d.task.name });
    if (pid !== undefined) this.d.onProcess(undefined);
    const oom = this.oomKilled || kernelOom;
    const now = this.d.now();
    const how = startError ?? (oom ? `killed: memory above ${this.d.task.resources.memoryMb} MB (OOM)` : signal ? `killed by ${signal}` : `exited with code ${code}`);
    if (this.stopping) {
      this.set({ state: "dead", finishedAt: now, exitCode: code }, "Killed", how);
      this.exited?.();
      return this.finished();
    }
    const success = !oom && !startError && code === 0;
    const decision = this.tracker.next(now, success);
    const ooms = this.state.ooms + (oom ? 1 : 0);
    if (decision.kind === "done") {
      this.set({ state: "dead", finishedAt: now, exitCode: code, oom, ooms }, "Completed", how);
      return this.finished();
    }
    if (decision.kind === "fail") {
      this.set({ state: "dead", failed: true, finishedAt: now, exitCode: code, oom, ooms }, "Failed", `${how}; ${decision.reason}`);
      return this.finished();
    }
    this.set({ state: "pending", finishedAt: now, exitCode: code, oom, ooms, restarts: this.state.restarts + 1 }, oom ? "OOM Killed" : "Restarting", `${how}; ${decision.reason}; restarting in ${formatDuration(decision.delayMs)}`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, decision.delayMs);
  }

  /** SIGTERM the process group, SIGKILL after kill_timeout; resolves once the task is dead. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child?.pid || this.state.state === "dead") {
      if (this.state.state !== "dead") this.set({ state: "dead", finishedAt: this.d.now() }, "Killed", reason);
      this.finished();
      return this.done;
    }
    const gone = new Promise<void>((r) => (this.exited = r));
    this.set({}, "Killing", `${reason}: SIGTERM, SIGKILL after ${formatDuration(this.d.killTimeoutMs)}`);
    killGroup(child.pid, "SIGTERM");
    const timer = setTimeout(() => killGroup(child.pid!, "SIGKILL"), this.d.killTimeoutMs);
    await gone;
    clearTimeout(timer);
    // Whatever the task forked and left behind in its group goes too.
    killGroup(child.pid, "SIGKILL");
    return this.done;
  }

  private set(patch: Partial<TaskState>, type: string, message: string): void {
    const events = [...this.state.events, { at: this.d.now(), type, message: message.slice(0, 1000) }].slice(-MAX_TASK_EVENTS);
    this.state = { ...this.state, ...patch, events };
    this.d.onChange(this.state);
  }
}
