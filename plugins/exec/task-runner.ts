// One task of an allocation as a real process: spawned without a shell
// (command and args as given), in its own session and process group, its
// stdout and stderr the task's log files (logs.ts) rather than pipes to the
// agent, memory and CPU limited (limits.ts), restarted by the group's
// restart policy (restart.ts). Stopping sends SIGTERM to the process group,
// waits kill_timeout, then SIGKILL.
//
// The process does not belong to the agent: detach() lets go of it (the
// plugin is stopping) and leaves it running; resume() adopts it again (the
// agent restarted, or the plugin was reloaded) from what processes.ts
// recorded, or restarts it by policy if it ended meanwhile.
//
// State changes go to onChange as a whole TaskState; the allocation runner
// decides what to report.
import { spawn } from "node:child_process";
import { formatDuration, type RestartPolicy, type Task, type TaskState } from "../../core/sdk/index.ts";
import { childExit, endedChild, startTicksOf, trackChild, watchExit, type ExitWatch, type TaskExit } from "./exits.ts";

/** How long a resume waits for the exit event of a child this process spawned and saw end. */
const EXIT_EVENT_WAIT_MS = 2000;
import { killGroup } from "./memory.ts";
import { isSandboxMonitor, signalGroup } from "./group-signal.ts";
import { survives, type ProcessEntry, type TaskRecord } from "./processes.ts";
import { RestartTracker } from "./restart.ts";
import type { RotatingLog } from "./logs.ts";
import type { TaskLimits } from "./limits.ts";

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
  /** The task's process (pid, or none) or counters changed: the plugin's process file records it. */
  onRecord(rec: TaskRecord): void;
  spawnFn?: typeof spawn;
  /** The user and group the process runs as (users.ts); absent: the agent's. */
  runAs?: { uid: number; gid: number };
  /** Why this task may not run on this node: it fails at once, without restarts. */
  refused?: string;
  /** The isolated command line (sandbox.ts): spawned instead of the task's command, as runAs too. */
  sandboxed?: { command: string; args: string[]; label?: string };
  /**
   * Runs before the task's first start (its artifacts, artifacts.ts):
   * resolves with event lines, or rejects with the reason the task cannot
   * start; that counts as a failed start for the restart policy. Run again
   * after a failure, not after a success.
   */
  prepare?: () => Promise<string[]>;
  /** The event type shown while prepare runs (default "Downloading Artifacts"). */
  prepareEvent?: string;
  /** Runs right before each spawn (a container task clears a leftover container of its name). */
  beforeStart?: () => void;
  /** The signal a stop or restart sends first (default SIGTERM; a container's image may name another). */
  stopSignal?: () => NodeJS.Signals;
  /**
   * How stop and restart signal the task (default: its process group). A
   * container task goes through the runtime (`runc kill`): a SIGKILL of the
   * runtime's own process would leave the container running.
   */
  signalTask?: (pid: number, sig: NodeJS.Signals) => void;
}

export function initialTaskState(): TaskState {
  return { state: "pending", failed: false, restarts: 0, oom: false, ooms: 0, exitCode: null, startedAt: 0, finishedAt: 0, events: [] };
}

export class TaskRunner {
  state: TaskState = initialTaskState();
  private current?: { pid: number; startTicks: number };
  private watch?: ExitWatch;
  private tracker: RestartTracker;
  private stopping = false;
  /** Why fail() killed the task: its end is a failure, not a stop. */
  private failedBy: string | undefined;
  private detached = false;
  private oomKilled = false;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private exited?: () => void;
  /** An operator's restart (alloc restart) is under way: the exit starts the task again (or holds it). */
  private restartRequested?: { reason: string; hold: boolean };
  private restartExited?: () => void;
  private prepared = false;
  private preparing = false;
  private finished!: () => void;
  /** Resolves when the task is dead for good (completed, failed, or stopped). */
  readonly done: Promise<void>;

  constructor(private d: TaskRunnerDeps) {
    this.tracker = new RestartTracker(d.restart, d.batch);
    this.done = new Promise((r) => (this.finished = r));
  }

  /** An in-place update of the allocation: later exits follow the new restart policy (the process keeps running). */
  setRestartPolicy(policy: RestartPolicy): void {
    this.d = { ...this.d, restart: policy };
    this.tracker.setPolicy(policy);
  }

  /** The task as the job declares it. */
  get spec(): Task {
    return this.d.task;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  start(): void {
    if (this.stopping || this.detached) return;
    const { task } = this.d;
    if (this.d.refused) {
      // A refusal is the node's configuration, not a crash: restarting changes nothing.
      this.set({ state: "dead", failed: true, finishedAt: this.d.now() }, "Setup Failure", `not started: ${this.d.refused}`);
      return this.finished();
    }
    if (this.d.prepare && !this.prepared) return this.prepareThenStart(this.d.prepare);
    let child: ReturnType<typeof spawn>;
    try {
      // uid/gid also drop the agent's supplementary groups (setgroups before setuid).
      // detached: its own session, so no signal meant for the agent reaches it.
      this.d.beforeStart?.();
      const argv = this.d.sandboxed ?? { command: task.command, args: task.args };
      child = (this.d.spawnFn ?? spawn)(argv.command, argv.args, {
        cwd: this.d.cwd, env: this.d.env, stdio: ["ignore", this.d.stdout.descriptor, this.d.stderr.descriptor], detached: true,
        ...(this.d.runAs ? { uid: this.d.runAs.uid, gid: this.d.runAs.gid } : {}),
      });
    } catch (err) {
      return this.exitedWith({ code: null, signal: null }, `could not start ${task.command}: ${(err as Error).message}`);
    }
    child.once("error", (err) => {
      // ENOENT and friends: no process was created, so no "exit" follows.
      if (child.pid === undefined) this.exitedWith({ code: null, signal: null }, `could not start ${task.command}: ${err.message}`);
    });
    if (child.pid === undefined) return;
    trackChild(child);
    child.unref(); // the agent may exit while the task runs on
    this.oomKilled = false;
    this.running(child.pid, startTicksOf(child.pid) ?? -1);
    this.set({ state: "running", startedAt: this.d.now(), exitCode: null }, "Started", `pid ${child.pid}${this.d.sandboxed ? ` (${this.d.sandboxed.label ?? "isolated"})` : ""}`);
  }

  private prepareThenStart(prepare: () => Promise<string[]>): void {
    if (this.preparing) return;
    this.preparing = true;
    this.set({}, this.d.prepareEvent ?? "Downloading Artifacts", this.d.prepareEvent ? "preparing the task before it starts" : "fetching the task's artifacts before it starts");
    prepare().then((lines) => {
      this.preparing = false;
      this.prepared = true;
      if (this.stopping || this.detached) return;
      if (lines.length) this.set({}, this.d.prepareEvent ? "Prepared" : "Artifacts Ready", lines.join("; "));
      this.start();
    }, (err: Error) => {
      this.preparing = false;
      if (this.stopping || this.detached) return;
      this.exitedWith({ code: null, signal: null }, `Failed Artifact Download: ${err.message}`);
    });
  }

  /**
   * Takes the task up again after the agent (or the exec plugin) restarted:
   * `entry` is what processes.json recorded, `known` the state the leader
   * last heard. A recorded process still running is adopted (same pid, logs
   * and limits); one that ended meanwhile counts as an exit and restarts by
   * policy; a task waiting to restart starts now.
   */
  resume(entry: ProcessEntry | undefined, known: TaskState | undefined): void {
    const base = known ?? initialTaskState();
    this.state = { ...base, restarts: Math.max(base.restarts, entry?.restarts ?? 0), ooms: Math.max(base.ooms, entry?.ooms ?? 0) };
    this.tracker = new RestartTracker(this.d.restart, this.d.batch, entry);
    if (entry?.pid !== undefined && survives(entry)) {
      this.running(entry.pid, entry.startTicks!);
      this.set({ state: "running", exitCode: null }, "Reattached", `pid ${entry.pid}: still running; the agent took it up again`);
    } else if (entry?.pid !== undefined) {
      // Ended meanwhile: its real exit if this agent process was its parent, else unknown.
      const ended = endedChild(entry.pid);
      const pending = ended ? undefined : childExit(entry.pid);
      const pid = entry.pid;
      if (pending) {
        // Our child, ended but its exit event not delivered yet (reaped a moment before Node
        // runs the callback): wait for the real code, a bounded while.
        const unknown: TaskExit = { code: null, signal: null, unknown: true };
        void Promise.race([pending, new Promise<TaskExit>((resolve) => setTimeout(() => resolve(unknown), EXIT_EVENT_WAIT_MS).unref?.())]).then((exit) => {
          endedChild(pid);
          if (!this.stopping && !this.detached) this.exitedWith(exit);
        });
      } else this.exitedWith(ended ?? { code: null, signal: null, unknown: true });
    } else if (base.state === "dead") {
      this.finished();
    } else this.start();
  }

  /** Lets go of the task without stopping it (the exec plugin or the agent is stopping). */
  detach(): void {
    if (this.stopping || this.detached) return;
    this.detached = true;
    clearTimeout(this.restartTimer);
    this.watch?.cancel();
    this.restartExited?.(); // an operator's restart waiting on the exit answers now
    if (this.current) this.d.limits.release({ allocId: this.d.allocId, task: this.d.task.name });
  }

  /** A process of this task runs (spawned or adopted): limits, exit watch, record. */
  private running(pid: number, startTicks: number): void {
    this.current = { pid, startTicks };
    const { task } = this.d;
    this.d.limits.attach({ allocId: this.d.allocId, task: task.name }, pid, task.resources.memoryMb * 1024 * 1024, task.resources.cpuMhz, () => {
      this.oomKilled = true;
    });
    const watch = watchExit(pid, startTicks);
    this.watch = watch;
    void watch.done.then((e) => {
      if (this.watch === watch && !this.detached) this.exitedWith(e);
    });
    this.record();
  }

  private record(): void {
    this.d.onRecord({
      ...(this.current ? { pid: this.current.pid, startTicks: this.current.startTicks } : {}),
      restarts: this.state.restarts, ooms: this.state.ooms, ...this.tracker.window,
    });
  }

  private exitedWith(exit: { code: number | null; signal: NodeJS.Signals | null; unknown?: boolean }, startError?: string): void {
    const { code, signal } = exit;
    const had = this.current;
    this.current = undefined;
    this.watch = undefined;
    const kernelOom = had !== undefined && this.d.limits.detach({ allocId: this.d.allocId, task: this.d.task.name });
    const oom = this.oomKilled || kernelOom;
    const now = this.d.now();
    const how = startError ?? (oom ? `killed: memory above ${this.d.task.resources.memoryMb} MB (OOM)`
      : exit.unknown ? "ended while the agent was not watching it (exit status unknown)"
      : signal ? `killed by ${signal}` : `exited with code ${code}`);
    const restartWaiter = this.restartExited;
    this.restartExited = undefined;
    restartWaiter?.();
    if (this.restartRequested !== undefined && !this.stopping && !this.detached) {
      // Asked for, not a crash: it does not count against the restart policy (as in Nomad).
      const { reason, hold } = this.restartRequested;
      this.restartRequested = undefined;
      this.set({ state: "pending", finishedAt: now, exitCode: code, restarts: this.state.restarts + 1 }, "Restarting", `${how}; ${reason}`);
      this.record();
      if (!hold) this.start();
      return;
    }
    if (this.stopping) {
      this.set({ state: "dead", finishedAt: now, exitCode: code, ...(this.failedBy ? { failed: true } : {}) }, "Killed", this.failedBy ? `${how}; ${this.failedBy}` : how);
      this.record();
      this.exited?.();
      return this.finished();
    }
    const success = !oom && !startError && !exit.unknown && code === 0;
    const decision = this.tracker.next(now, success);
    const ooms = this.state.ooms + (oom ? 1 : 0);
    if (decision.kind === "done") {
      this.set({ state: "dead", finishedAt: now, exitCode: code, oom, ooms }, "Completed", how);
      this.record();
      return this.finished();
    }
    if (decision.kind === "fail") {
      this.set({ state: "dead", failed: true, finishedAt: now, exitCode: code, oom, ooms }, "Failed", `${how}; ${decision.reason}`);
      this.record();
      return this.finished();
    }
    this.set({ state: "pending", finishedAt: now, exitCode: code, oom, ooms, restarts: this.state.restarts + 1 }, oom ? "OOM Killed" : "Restarting", `${how}; ${decision.reason}; restarting in ${formatDuration(decision.delayMs)}`);
    this.record();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, decision.delayMs);
  }

  /**
   * Kills the task and marks it failed, never restarted (a template's
   * change_script with fail_on_error failed): as stop, then the allocation
   * fails and the reschedule policy decides.
   */
  fail(reason: string): Promise<void> {
    if (this.stopping) return this.done;
    this.failedBy = reason;
    return this.stop(reason);
  }

  /** SIGTERM the process group, SIGKILL after kill_timeout; resolves once the task is dead. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const proc = this.current;
    if (!proc || this.state.state === "dead") {
      if (this.state.state !== "dead") this.set({ state: "dead", finishedAt: this.d.now(), ...(this.failedBy ? { failed: true } : {}) }, "Killed", reason);
      this.finished();
      return this.done;
    }
    const gone = new Promise<void>((r) => (this.exited = r));
    const first = this.d.stopSignal?.() ?? "SIGTERM";
    this.set({}, "Killing", `${reason}: ${first}, SIGKILL after ${formatDuration(this.d.killTimeoutMs)}`);
    this.signalTask(proc.pid, first);
    const timer = setTimeout(() => this.signalTask(proc.pid, "SIGKILL"), this.d.killTimeoutMs);
    await gone;
    clearTimeout(timer);
    // Whatever the task forked and left behind in its group goes too.
    killGroup(proc.pid, "SIGKILL");
    return this.done;
  }

  /**
   * An operator's restart (alloc restart): SIGTERM the process group,
   * SIGKILL after kill_timeout, then start the task again at once. A task
   * waiting out a restart delay starts now. False when there is nothing to
   * restart (not started, dead, stopping).
   *
   * `hold`: the task is left pending instead of started, for the caller to
   * start again (a restart of every task re-runs the lifecycle in order);
   * an ephemeral task that completed is then made pending too.
   */
  async restart(reason: string, hold = false): Promise<boolean> {
    if (this.stopping || this.detached || this.d.refused) return false;
    const proc = this.current;
    if (!proc) {
      if (this.restartTimer !== undefined) {
        clearTimeout(this.restartTimer);
        this.restartTimer = undefined;
        this.set({}, "Restarting", hold ? reason : `${reason}: starting now`);
        if (!hold) this.start();
        return true;
      }
      if (hold && this.state.state === "dead" && !this.state.failed) {
        this.set({ state: "pending", exitCode: null }, "Restarting", `${reason}: runs again`);
        return true;
      }
      return false;
    }
    if (this.restartRequested !== undefined) return true; // one already under way
    this.restartRequested = { reason, hold };
    const gone = new Promise<void>((r) => (this.restartExited = r));
    const first = this.d.stopSignal?.() ?? "SIGTERM";
    this.set({}, "Restart Signaled", `${reason}: ${first}, SIGKILL after ${formatDuration(this.d.killTimeoutMs)}`);
    this.signalTask(proc.pid, first);
    const timer = setTimeout(() => this.signalTask(proc.pid, "SIGKILL"), this.d.killTimeoutMs);
    await gone;
    clearTimeout(timer);
    killGroup(proc.pid, "SIGKILL"); // what the old process left behind in its group
    return true;
  }

  /**
   * Sends a signal to the task's process (not its group, as Nomad's executor);
   * false when none runs. An isolated task's pid is bubblewrap's monitor,
   * which a SIGUSR1 would kill: the signal goes past it to the sandbox's
   * processes instead (group-signal.ts).
   */
  signal(sig: NodeJS.Signals): boolean {
    const proc = this.current;
    if (!proc || this.state.state !== "running" || this.detached) return false;
    try {
      if (this.d.sandboxed && isSandboxMonitor(proc.pid)) signalGroup(proc.pid, sig);
      else process.kill(proc.pid, sig);
    } catch {
      return false;
    }
    this.set({}, "Signaling", `sent ${sig} to pid ${proc.pid}`);
    return true;
  }

  private signalTask(pid: number, sig: NodeJS.Signals): void {
    if (this.d.signalTask) this.d.signalTask(pid, sig);
    else killGroup(pid, sig);
  }

  /** Adds an event to the task's history without changing its state (templates say why a task waits). */
  note(type: string, message: string): void {
    if (!this.detached) this.set({}, type, message);
  }

  private set(patch: Partial<TaskState>, type: string, message: string): void {
    const events = [...this.state.events, { at: this.d.now(), type, message: message.slice(0, 1000) }].slice(-MAX_TASK_EVENTS);
    this.state = { ...this.state, ...patch, events };
    this.d.onChange(this.state);
  }
}
