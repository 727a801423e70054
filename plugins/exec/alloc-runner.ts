// One allocation on this agent: its folder, its tasks, its services, and
// the client status the leader sees:
//   pending  → until every task runs (and its service is registered)
//   running  → while tasks run; a task restarting keeps it running
//   complete → every task ended well, or the allocation was stopped
//   failed   → a task failed past its restart policy (the others are stopped)
import { chownSync, existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import type { Logger } from "../../core/log.ts";
import { runsToCompletion, type TaskGroup, type PortAssignment } from "../../core/scheduler/index.ts";
import type { TaskState } from "../../core/store/schema-jobs.ts";
import { prepareAllocDir, prepareTaskDir } from "./dirs.ts";
import { taskEnv } from "./env.ts";
import { provideIdentity } from "./identity.ts";
import { RotatingLog } from "./logs.ts";
import type { TaskLimits } from "./limits.ts";
import { TaskRunner } from "./task-runner.ts";
import type { ProcessEntry, TaskRecord } from "./processes.ts";
import type { TaskIdentity } from "./users.ts";

/** An allocation as GET /v1/node/{id}/allocations returns it (the fields the agent uses). */
export interface NodeAlloc {
  id: string;
  namespace: string;
  jobId: string;
  jobType: string;
  groupName: string;
  taskGroupIndex: number;
  nodeId: string;
  ports: PortAssignment[];
  desiredStatus: "run" | "stop";
  desiredDescription: string;
  clientStatus: string;
  groupSpec: TaskGroup;
  taskStates?: Record<string, TaskState>;
}

export type RunnerStatus = "pending" | "running" | "complete" | "failed";

export interface ServiceHooks {
  /** The task runs: register its service (if any); resolves once the catalog write is done or gave up. */
  register(alloc: NodeAlloc, task: string): Promise<void>;
  deregister(alloc: NodeAlloc, task: string): Promise<void>;
}

export interface AllocRunnerDeps {
  allocsDir: string;
  host: string;
  killTimeoutMs: number;
  maxLogFileBytes: number;
  maxLogFiles: number;
  limits: TaskLimits;
  services: ServiceHooks;
  report(allocId: string, status: RunnerStatus, description: string, tasks: Record<string, TaskState>): void;
  /** A task's process or restart counters changed (processes.ts records them for the next agent). */
  onRecord(allocId: string, task: string, rec: TaskRecord): void;
  /** The allocation is over here: nothing of it is left to adopt. */
  forget(allocId: string): void;
  now(): number;
  log: Logger;
  agentEnv: Record<string, string | undefined>;
  /** Who a task runs as (users.ts), or why it may not run here. */
  identity(task: TaskGroup["tasks"][number]): TaskIdentity;
  /** The agent switches users (it is root): folders get the modes of dirs.ts. */
  isolate: boolean;
  /** Mints a task's workload identity token (identity.ts); absent: tasks get none. */
  mintWorkloadToken?: (allocId: string, task: string) => string;
  /** This node's API address, for the task's CORRAL_ADDR. */
  apiUrl?: () => string | undefined;
}

/**
 * A dispatched job's payload, as the file the task declared (default
 * "payload") in its directory. The job spec already refuses absolute paths
 * and ".."; this checks again, since the file is written by the agent.
 */
/**
 * Writes a dispatched job's payload into the task directory, owned by the
 * task's user. The directory may already hold what the task wrote on an
 * earlier run (it is the task's own, and this runs as root): nothing on the
 * way may be a symbolic link, and an existing file is unlinked and created
 * anew (O_EXCL), so a planted link cannot turn this write into one elsewhere.
 */
export function writePayload(taskDir: string, file: string, base64: string, owner?: { uid: number; gid: number }): void {
  const path = resolve(taskDir, file);
  const rel = relative(taskDir, path);
  if (rel === "" || rel.startsWith("..") || rel.startsWith("/")) throw new Error(`dispatch payload file "${file}" is outside the task directory`);
  let dir = taskDir;
  for (const part of rel.split("/").slice(0, -1)) {
    dir = join(dir, part);
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o700 });
      if (owner) chownSync(dir, owner.uid, owner.gid);
    } else if (!lstatSync(dir).isDirectory()) throw new Error(`dispatch payload path "${file}": ${part} is not a directory`);
  }
  rmSync(path, { force: true });
  writeFileSync(path, Buffer.from(base64, "base64"), { mode: 0o600, flag: "wx" });
  if (owner) chownSync(path, owner.uid, owner.gid);
}

export function allocDir(allocsDir: string, allocId: string): string {
  return join(allocsDir, allocId);
}

export class AllocRunner {
  status: RunnerStatus = "pending";
  private tasks = new Map<string, TaskRunner>();
  private logs: RotatingLog[] = [];
  private registering = new Set<string>();
  private registered = new Set<string>();
  private stopping = false;
  private detached = false;
  private terminal = false;
  private description = "";

  constructor(readonly alloc: NodeAlloc, private d: AllocRunnerDeps) {}

  get dir(): string {
    return allocDir(this.d.allocsDir, this.alloc.id);
  }

  /**
   * Prepares the folders and runs the tasks. With `recorded` (what
   * processes.json kept of this allocation from before the agent or the
   * plugin restarted), tasks are resumed instead: still-running processes
   * are adopted, ended ones restarted by policy.
   */
  start(recorded?: ReadonlyMap<string, ProcessEntry>): void {
    const a = this.alloc;
    const g = a.groupSpec;
    prepareAllocDir(this.dir, this.d.isolate);
    for (const task of g.tasks) {
      const taskDir = join(this.dir, "tasks", task.name);
      const who = this.d.identity(task);
      prepareTaskDir(taskDir, who.ok ? who.switchTo : undefined);
      if (task.payload !== undefined) {
        try {
          writePayload(taskDir, task.dispatchPayload?.file ?? "payload", task.payload, who.ok ? who.switchTo : undefined);
        } catch (err) {
          this.d.log.warn("exec: could not write the dispatch payload", { alloc: a.id, task: task.name, err });
        }
      }
      const logDir = join(this.dir, "logs");
      const stdout = new RotatingLog(logDir, task.name, "stdout", this.d.maxLogFileBytes, this.d.maxLogFiles);
      const stderr = new RotatingLog(logDir, task.name, "stderr", this.d.maxLogFileBytes, this.d.maxLogFiles);
      this.logs.push(stdout, stderr);
      let identityEnv: Record<string, string> = {};
      try {
        identityEnv = provideIdentity({ mint: this.d.mintWorkloadToken, apiUrl: this.d.apiUrl?.(), allocId: a.id, task: task.name, taskDir, owner: who.ok ? who.switchTo : undefined });
      } catch (err) {
        this.d.log.warn("exec: could not give the task its workload identity", { alloc: a.id, task: task.name, err });
      }
      // The task's own env may still override these (taskEnv puts it last).
      const env = { ...identityEnv, ...taskEnv({
        allocId: a.id, jobId: a.jobId, namespace: a.namespace, group: a.groupName, index: a.taskGroupIndex, task,
        allocDir: this.dir, taskDir, host: this.d.host, ports: a.ports, agentEnv: this.d.agentEnv,
        user: who.ok && who.switchTo ? { name: who.name, home: taskDir } : undefined,
      }) };
      const runner = new TaskRunner({
        allocId: a.id, task, batch: runsToCompletion(a.jobType), restart: g.restart, env, cwd: taskDir, stdout, stderr,
        killTimeoutMs: this.d.killTimeoutMs, limits: this.d.limits, now: this.d.now,
        runAs: who.ok ? who.switchTo : undefined, refused: who.ok ? undefined : who.error,
        onChange: (st) => this.taskChanged(task.name, st),
        onRecord: (rec) => {
          if (!this.terminal) this.d.onRecord(a.id, task.name, rec);
        },
      });
      this.tasks.set(task.name, runner);
    }
    // An adopted allocation was running and still is: no "pending" blip while its services re-register.
    if (recorded && a.clientStatus === "running") this.status = "running";
    for (const [name, t] of this.tasks) {
      if (recorded) t.resume(recorded.get(name), a.taskStates?.[name]);
      else t.start();
    }
    this.emit();
  }

  rotateLogs(): void {
    if (!this.detached) for (const l of this.logs) l.rotateIfFull();
  }

  /** Lets go of the tasks, leaving them running (the exec plugin or the agent is stopping). */
  detach(): void {
    this.detached = true;
    for (const t of this.tasks.values()) t.detach();
    for (const l of this.logs) l.close();
  }

  private taskChanged(task: string, st: TaskState): void {
    if (st.state === "running" && !this.registered.has(task) && !this.stopping) {
      this.registering.add(task);
      void this.d.services.register(this.alloc, task).finally(() => {
        this.registering.delete(task);
        this.registered.add(task);
        this.emit();
      });
    } else if (st.state !== "running" && this.registered.delete(task)) {
      void this.d.services.deregister(this.alloc, task);
    }
    this.emit();
    const failed = [...this.tasks.values()].find((t) => t.state.state === "dead" && t.state.failed);
    if (failed && !this.stopping) void this.stop(`sibling task failed: ${failed.state.events.at(-1)?.message ?? "failed"}`);
  }

  private aggregate(): RunnerStatus {
    const states = [...this.tasks.values()].map((t) => t.state);
    if (states.some((s) => s.state === "dead" && s.failed)) return "failed";
    if (states.every((s) => s.state === "dead")) return "complete";
    const allRunning = [...this.tasks].every(([name, t]) => t.state.state === "running" && !this.registering.has(name));
    if (allRunning) return "running";
    return this.status === "running" ? "running" : "pending";
  }

  /** Reports the current state; once complete or failed has been reported nothing changes any more. */
  private emit(): void {
    if (this.terminal || this.detached) return;
    this.status = this.aggregate();
    if (this.status === "complete" || this.status === "failed") {
      this.terminal = true;
      this.d.forget(this.alloc.id);
    }
    const tasks: Record<string, TaskState> = {};
    for (const [name, t] of this.tasks) tasks[name] = t.state;
    const failedTask = [...this.tasks.values()].find((t) => t.state.failed);
    const description = this.description || (failedTask ? failedTask.state.events.at(-1)?.message ?? "" : "");
    this.d.report(this.alloc.id, this.status, description, tasks);
  }

  /** Stops every task (SIGTERM, grace, SIGKILL) and deregisters the services; the allocation ends complete (or failed). */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.terminal) this.description = reason.slice(0, 1000);
    await Promise.all([...this.tasks.values()].map((t) => t.stop(reason)));
    await Promise.all([...this.registered].map((t) => this.d.services.deregister(this.alloc, t)));
    this.registered.clear();
    for (const l of this.logs) l.close();
    this.emit();
  }

  /** Every task ended by itself (completed or failed): nothing left to run. */
  get finished(): boolean {
    return [...this.tasks.values()].every((t) => t.state.state === "dead");
  }

  get stopped(): boolean {
    return this.stopping;
  }
}
