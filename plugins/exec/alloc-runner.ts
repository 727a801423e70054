// One allocation on this agent: its folder, its tasks, its services, and
// the client status the leader sees:
//   pending  → until every task runs (and its service is registered)
//   running  → while tasks run; a task restarting keeps it running
//   complete → every task ended well, or the allocation was stopped
//   failed   → a task failed past its restart policy (the others are stopped)
import { chownSync, existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { type ChangeScript, hostVolumesOf, type Logger, type NodeFacts, type PortAssignment, resolveTask, runsToCompletion, stableJson, type TaskGroup, type TaskIdentity, type TaskState, tasksUpdated } from "../../core/sdk/index.ts";
import { prepareAllocDir, prepareTaskDir } from "./dirs.ts";
import { taskEnv } from "./env.ts";
import { provideIdentity } from "./identity.ts";
import { RotatingLog } from "./logs.ts";
import type { TaskLimits } from "./limits.ts";
import { TaskRunner } from "./task-runner.ts";
import { isEphemeral, lifecycleStep, phaseOf, type TaskNow } from "./lifecycle.ts";
import type { ProcessEntry, TaskRecord } from "./processes.ts";
import type { TaskSandbox } from "./task-sandbox.ts";
import { TaskTemplates } from "./templates/task-templates.ts";
import { runChangeScript, type ScriptResult } from "./templates/change-script.ts";
import type { TemplateData } from "./templates/data.ts";

const stableSpec = (g: TaskGroup): string => stableJson(g);
import { fetchArtifacts, type ArtifactDeps } from "./artifacts.ts";
import { mountBinds, unmountUnder, volumeBinds } from "./volumes.ts";
import { containerTask, type ContainerDriver, type TaskNetwork } from "../container/driver.ts";
import type { InsideProcess } from "../container/exec-pid.ts";
import { containerPortEnv, containerPortMaps } from "../container/port-env.ts";

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
  /** This node as it registered (${node.*}, ${attr.*}, ${meta.*} in task interpolation). */
  nodeFacts?: () => NodeFacts | undefined;
  /** How a task is sandboxed here (task-sandbox.ts); absent: never (tests, non-root agents). */
  sandbox?(task: TaskGroup["tasks"][number], taskDir: string, who: TaskIdentity): TaskSandbox;
  /** Mints a task's workload identity token (identity.ts); absent: tasks get none. */
  mintWorkloadToken?: (allocId: string, task: string) => string;
  /** This node's API address, for the task's CORRAL_ADDR. */
  apiUrl?: () => string | undefined;
  /** Where and how task artifacts are fetched (artifacts.ts); absent: tasks with artifacts are refused. */
  artifacts?: ArtifactDeps;
  /** Where task templates read KV, the catalog and variables (templates/data.ts); absent: tasks with templates never start. */
  templateData?: TemplateData;
  /** Runs container tasks (plugins/container/driver.ts); absent: they are refused with containersOff. */
  containers?: ContainerDriver;
  /** Why this node runs no container tasks (no runtime, not root). */
  containersOff?: string;
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

/** No data source (a test harness without one): every read fails, so a task with templates waits, saying why. */
const missingTemplateData = {
  watch: () => ({ first: Promise.resolve(), release() {} }),
  peek: () => undefined,
  failure: () => "this agent cannot read template data",
} as unknown as TemplateData;

export function allocDir(allocsDir: string, allocId: string): string {
  return join(allocsDir, allocId);
}

/** How `alloc exec` runs a command in a task, or why it cannot (plugins/exec/exec-session.ts runs it). */
export type ExecPlan =
  | {
    kind: "run"; command: string; args: string[]; cwd: string; env: Record<string, string>; runAs?: { uid: number; gid: number };
    /** The arguments for a session with a terminal, where they differ (a container: `runc exec -t`). */
    terminalArgs?: string[];
    /** A container: the process runc starts inside, to end with the exec (container/exec-pid.ts). */
    inside?: InsideProcess;
  }
  | { kind: "refused"; error: string }
  | { kind: "invalid"; error: string };

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
  /** Tasks with their ${...} references resolved on this node (what runs and what the catalog gets). */
  private resolved = new Map<string, TaskGroup["tasks"][number]>();
  /** Tasks told to start (lifecycle.ts decides when); the others wait for their phase. */
  private launched = new Set<string>();
  private advancing = false;
  private advanceAgain = false;
  /** Tasks with templates: they start once these rendered (templates/task-templates.ts). */
  private templates = new Map<string, TaskTemplates>();
  /** How a command is run inside each task (`alloc exec`): set when the task is set up. */
  private execPlans = new Map<string, (argv: readonly string[]) => ExecPlan>();

  constructor(private current: NodeAlloc, private d: AllocRunnerDeps) {}

  /** The allocation as the leader last listed it (an in-place update replaces its group spec). */
  get alloc(): NodeAlloc {
    return this.current;
  }

  /**
   * The leader updated this allocation in place (a new job version whose
   * tasks are unchanged, core/scheduler/update-kind.ts): take up the new
   * group spec without touching the processes. What can differ is the
   * group's policies: the restart policy applies to the tasks' next exits.
   * Commands, env, services and everything interpolated are task fields, so
   * a change of those comes as a new allocation, never here; the resolved
   * tasks (and the catalog registrations made from them) stay valid. A
   * listing whose tasks did differ is ignored (defensive: the leader never
   * sends one). Returns whether anything was taken up.
   */
  update(next: NodeAlloc): boolean {
    const before = this.current.groupSpec;
    if (next.id !== this.current.id || stableSpec(before) === stableSpec(next.groupSpec)) return false;
    if (tasksUpdated(before, next.groupSpec) !== null) {
      this.d.log.warn("exec: an allocation's tasks changed in place; keeping the running ones (a new allocation should replace it)", { alloc: next.id });
      return false;
    }
    this.current = { ...this.current, groupSpec: next.groupSpec };
    for (const t of this.tasks.values()) t.setRestartPolicy(next.groupSpec.restart);
    this.d.log.info("allocation updated in place", { alloc: next.id, restart: next.groupSpec.restart });
    return true;
  }

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
    const network = this.containerNetwork();
    for (const task of g.tasks) {
      const taskDir = join(this.dir, "tasks", task.name);
      // A container task's process is the OCI runtime, started by the agent; who runs inside is the task's user, else the image's.
      const ctr = task.driver === "container";
      const who: TaskIdentity = ctr ? { ok: true, raw: false, name: "root" } : this.d.identity(task);
      const bundleDir = join(this.dir, "containers", task.name);
      // Who owns what the agent writes into the task folder: the exec task's user; for a container task,
      // its container's user once known (plugins/container/task-dir-owner.ts): not at the first start (the
      // image is not pulled yet: the folder is handed over after its preparation, onUser below), but when
      // an agent takes the task up again (its bundle says) and after the handover (re-fetched artifacts,
      // template renders). Root's container: undefined, the agent's own.
      let owner = who.ok ? who.switchTo ?? (ctr ? this.d.containers?.bundleUser(bundleDir) : undefined) : undefined;
      prepareTaskDir(taskDir, owner);
      if (task.payload !== undefined) {
        try {
          writePayload(taskDir, task.dispatchPayload?.file ?? "payload", task.payload, owner);
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
        identityEnv = provideIdentity({ mint: this.d.mintWorkloadToken, apiUrl: this.d.apiUrl?.(), allocId: a.id, task: task.name, taskDir, owner });
      } catch (err) {
        this.d.log.warn("exec: could not give the task its workload identity", { alloc: a.id, task: task.name, err });
      }
      // The task's own env may still override these (taskEnv puts it last).
      const env = { ...identityEnv, ...taskEnv({
        allocId: a.id, jobId: a.jobId, namespace: a.namespace, group: a.groupName, index: a.taskGroupIndex, task,
        allocDir: this.dir, taskDir, host: this.d.host, ports: a.ports, agentEnv: ctr ? {} : this.d.agentEnv, // the image's PATH, not the host's
        user: who.ok && who.switchTo ? { name: who.name, home: taskDir } : undefined,
      }), ...(ctr && bridged(task) ? containerPortEnv(task, a.ports) : {}) };
      // Interpolation with this node's values (core/scheduler/interpolate.ts); never through a shell.
      const node = this.d.nodeFacts?.() ?? { id: "", name: "", datacenter: "", attributes: {}, meta: {} };
      const r = resolveTask(task, { env, node, portLabels: Object.keys(task.ports) });
      const run = r.ok ? r.task : task;
      if (r.ok) Object.assign(env, r.task.env);
      this.resolved.set(task.name, run);
      // The sandbox wraps the task as it will run: its args already interpolated.
      const box = ctr ? { kind: "plain" as const } : this.d.sandbox?.(run, taskDir, who) ?? { kind: "plain" as const };
      const drv = ctr ? this.d.containers : undefined;
      const ctrRefusal = !ctr ? undefined : !drv ? `container tasks do not run on this node: ${this.d.containersOff ?? "the container driver is off"}` : drv.refusal(run.container!);
      const refused = !who.ok ? who.error : !r.ok ? `${r.field}: ${r.error}` : box.kind === "refused" ? box.error : ctrRefusal ?? this.mountVolumes(task, taskDir, owner, node.attributes);
      const artifacts = run.artifacts ?? [];
      const fetcher = this.d.artifacts;
      const fetchAll = () => (artifacts.length === 0 ? Promise.resolve([]) : fetcher ? fetchArtifacts(artifacts, taskDir, owner, fetcher) : Promise.reject(new Error("artifacts are not enabled on this node")));
      let runner: TaskRunner;
      const container = drv && !refused ? containerTask(drv, { allocId: a.id, task: run, taskDir, bundleDir, env, network: bridged(task) ? network! : task.networkMode!, note: (m) => runner.note("Pulling Image", m), after: fetchAll,
        // A non-root container user: artifacts fetched at a restart and template re-renders are written as it
        // (the folder is its own by then).
        onUser: (u) => {
          owner = u;
          this.templates.get(task.name)?.setOwner(u);
        } }) : {};
      runner = new TaskRunner({
        allocId: a.id, task: run, batch: runsToCompletion(a.jobType) || isEphemeral(task), restart: g.restart, env, cwd: taskDir, stdout, stderr,
        killTimeoutMs: this.d.killTimeoutMs, limits: this.d.limits, now: this.d.now,
        runAs: ctr ? undefined : owner, refused, // a container task's process is the runtime: root
        ...(box.kind === "isolated" ? { sandboxed: { command: box.command, args: box.args } } : {}),
        ...(artifacts.length ? {
          prepare: fetchAll,
        } : {}),
        ...container, // a container task: the runtime as its process, and how it is prepared, signalled and limited
        onChange: (st) => this.taskChanged(task.name, st),
        onRecord: (rec) => {
          if (!this.terminal) this.d.onRecord(a.id, task.name, rec);
        },
      });
      this.tasks.set(task.name, runner);
      // `alloc exec` runs a command as a change_script does (below): in a sandbox like the task's
      // (same binds, user, network mode) or, not isolated, as its user in its folder; in a container
      // task, inside the running container (runc exec).
      this.execPlans.set(task.name, (argv) => {
        if (refused) return { kind: "refused", error: `the task did not start: ${refused}` };
        if (ctr) {
          if (!drv) return { kind: "refused", error: "container tasks do not run on this node" };
          // The task is "running" once the runtime process is: its container may still be being created.
          if (!drv.isRunning({ allocId: a.id, task: task.name })) return { kind: "refused", error: `the container of task "${task.name}" is not running (yet): try again in a moment` };
          return { kind: "run", ...drv.execCommand({ allocId: a.id, task: task.name }, argv), cwd: taskDir, env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } };
        }
        const b = this.d.sandbox?.({ ...run, command: argv[0]!, args: argv.slice(1) }, taskDir, who) ?? { kind: "plain" as const };
        if (b.kind === "refused") return b;
        const argvOf = b.kind === "isolated" ? { command: b.command, args: b.args } : { command: argv[0]!, args: argv.slice(1) };
        return { kind: "run", ...argvOf, cwd: taskDir, env, ...(owner ? { runAs: owner } : {}) };
      });
      if (run.templates?.length && !refused) {
        // A change_script runs as the task does: in a sandbox like the task's (same binds, user,
        // network mode), or, for a task that is not isolated, as its user in its folder; in a container
        // task, inside its running container (runc exec: the container's user, namespaces and env), as
        // Nomad's docker driver does. Never as a plain process of the agent for a container task: it
        // has no host user of its own (`who` is the runtime's, root), so that would be root on the node.
        // One at a time per task: a re-render while a script runs queues the next after it.
        let scripts = Promise.resolve();
        const script = (s: ChangeScript, reason: string) => {
          scripts = scripts.then(() => this.runChangeScript(runner, s, reason, {
            argv: () => {
              if (ctr) {
                const plan = this.execPlans.get(task.name)!([s.command, ...s.args]);
                return plan.kind === "run" ? { command: plan.command, args: plan.args, ...(plan.inside ? { inside: plan.inside } : {}) } : { kind: "refused", error: plan.error };
              }
              const b = this.d.sandbox?.({ ...run, command: s.command, args: s.args }, taskDir, who) ?? { kind: "plain" as const };
              return b.kind === "isolated" ? { command: b.command, args: b.args } : b.kind === "plain" ? { command: s.command, args: s.args } : b;
            },
            // runc runs as root (the container's user is in its config.json).
            cwd: taskDir, env: ctr ? { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } : env, runAs: ctr ? undefined : owner,
          })).catch((err) => this.d.log.warn("exec: change_script failed to run", { alloc: a.id, task: task.name, err }));
        };
        this.templates.set(task.name, this.taskTemplates(run, runner, taskDir, owner, env, node, script));
      }
    }
    // An adopted allocation was running and still is: no "pending" blip while its services re-register.
    if (recorded && a.clientStatus === "running") this.status = "running";
    if (recorded) {
      // Tasks that had started before take up where they were; the rest wait for their phase (advance).
      // All are marked first: a resumed task reports at once, and the lifecycle must not see the
      // others as never started (it would start a second copy of a prestart task).
      const resumed = [...this.tasks].filter(([name]) => {
        const known = a.taskStates?.[name];
        return recorded.has(name) || (known !== undefined && (known.startedAt > 0 || known.state === "dead"));
      });
      for (const [name] of resumed) this.launched.add(name);
      for (const [name, t] of resumed) t.resume(recorded.get(name), a.taskStates?.[name]);
    }
    this.advance();
    this.emit();
  }

  /**
   * The allocation's network namespace for its container tasks that have no
   * network_mode (docs/containers.md "Network"), with their host ports
   * proxied in; made at the first start, taken up again (listeners
   * re-opened) when an agent resumes the allocation. Undefined when no task
   * needs one or containers do not run here.
   */
  private containerNetwork(): TaskNetwork | undefined {
    const drv = this.d.containers;
    const tasks = this.alloc.groupSpec.tasks.filter((t) => t.driver === "container" && bridged(t));
    if (!drv || tasks.length === 0) return undefined;
    const maps = tasks.flatMap((t) => containerPortMaps(t, this.alloc.ports));
    const net = drv.networks.ensure(this.alloc.id, maps);
    // Awaited by each task's prepare (its start fails with the reason); an adopted task never awaits it.
    net.catch((err) => this.d.log.warn("exec: could not set up the allocation's container network", { alloc: this.alloc.id, err }));
    return net;
  }

  /** Binds the task's volume_mounts (volumes.ts); the reason it cannot run, or undefined. */
  private mountVolumes(task: TaskGroup["tasks"][number], taskDir: string, owner: { uid: number; gid: number } | undefined, attributes: Record<string, string>): string | undefined {
    if (!task.volumeMounts?.length) return undefined;
    if (!this.d.isolate) return "host volumes need a root agent (they are bind mounts)";
    try {
      mountBinds(volumeBinds(this.alloc.groupSpec, task, taskDir, hostVolumesOf(attributes)), taskDir, owner);
      return undefined;
    } catch (err) {
      const e = err as Error & { stderr?: Buffer };
      return `volume mount failed: ${e.stderr?.toString().trim() || e.message}`;
    }
  }

  /** The allocation is over here: its bind mounts go (the host folders and their data stay). */
  private releaseMounts(): void {
    const left = unmountUnder(this.dir);
    if (left.length) this.d.log.warn("exec: could not unmount host volumes", { alloc: this.alloc.id, left });
  }

  /**
   * Starts, stops or skips tasks as the lifecycle says (lifecycle.ts), after
   * every task change. Re-entrant calls (a start reports a change at once)
   * are folded into one more round.
   */
  private advance(): void {
    if (this.detached) return;
    if (this.advancing) {
      this.advanceAgain = true;
      return;
    }
    this.advancing = true;
    try {
      do {
        this.advanceAgain = false;
        const now = new Map<string, TaskNow>();
        for (const [name, t] of this.tasks) now.set(name, { launched: this.launched.has(name), state: t.state.state, failed: t.state.failed });
        const step = lifecycleStep(this.alloc.groupSpec.tasks, now, this.stopping);
        for (const name of step.skip) void this.tasks.get(name)?.stop(this.stopping ? "not run: the allocation was stopped" : "not run: a task of the allocation failed");
        for (const name of step.stop) void this.tasks.get(name)?.stop("the main tasks have stopped");
        for (const name of step.start) {
          if (this.templates.get(name)?.isReady === false) continue; // started when its templates rendered
          this.launched.add(name);
          this.tasks.get(name)?.start();
        }
      } while (this.advanceAgain);
    } finally {
      this.advancing = false;
    }
  }

  /** The task's templates, rendering from now on; `ready` lets the lifecycle start the task. */
  /** One change_script run, told as events on the task; a failure with fail_on_error kills the task as failed. */
  private async runChangeScript(runner: TaskRunner, s: ChangeScript, reason: string, how: {
    argv: () => { command: string; args: string[]; inside?: InsideProcess } | { kind: "refused"; error: string };
    cwd: string; env: Record<string, string>; runAs?: { uid: number; gid: number };
  }): Promise<void> {
    const what = `change_script ${[s.command, ...s.args].join(" ")}`.slice(0, 300);
    if (runner.state.state !== "running") return runner.note("Template", `${reason}: ${what} not run: the task is not running`);
    const argv = how.argv();
    let result: ScriptResult;
    if ("kind" in argv) result = { ok: false, how: `not run: ${argv.error}` };
    else {
      runner.note("Template", `${reason}: running ${what}`);
      result = await runChangeScript({ argv: { command: argv.command, args: argv.args }, cwd: how.cwd, env: how.env, ...(how.runAs ? { runAs: how.runAs } : {}), ...(argv.inside ? { inside: argv.inside } : {}), timeoutMs: s.timeoutMs });
    }
    if (this.detached) return;
    runner.note("Template", `${what} ${result.how}`);
    if (!result.ok && s.failOnError) void runner.fail(`${what} failed (fail_on_error)`);
  }

  private taskTemplates(task: TaskGroup["tasks"][number], runner: TaskRunner, taskDir: string, owner: { uid: number; gid: number } | undefined, env: Record<string, string>, node: NodeFacts, script: (s: ChangeScript, reason: string) => void): TaskTemplates {
    const tt = new TaskTemplates({
      templates: task.templates ?? [], taskDir, owner, token: env.CORRAL_TOKEN, node, env, log: this.d.log,
      data: this.d.templateData ?? missingTemplateData,
      event: (type, message) => runner.note(type, message),
      ready: () => this.advance(),
      restart: (reason) => void runner.restart(reason),
      signal: (sig, reason) => {
        if (runner.signal(sig)) runner.note("Template", reason);
      },
      script,
    });
    tt.start();
    return tt;
  }

  rotateLogs(): void {
    if (!this.detached) for (const l of this.logs) l.rotateIfFull();
  }

  /** Lets go of the tasks, leaving them running (the exec plugin or the agent is stopping). */
  detach(): void {
    this.detached = true;
    for (const t of this.templates.values()) t.stop();
    for (const t of this.tasks.values()) t.detach();
    for (const l of this.logs) l.close();
  }

  /** The allocation with its tasks as resolved here: service tags and check paths interpolated. */
  private serviceAlloc(): NodeAlloc {
    const g = this.alloc.groupSpec;
    return { ...this.alloc, groupSpec: { ...g, tasks: g.tasks.map((t) => this.resolved.get(t.name) ?? t) } };
  }

  private taskChanged(task: string, st: TaskState): void {
    if (st.state === "running" && !this.registered.has(task) && !this.stopping) {
      this.registering.add(task);
      void this.d.services.register(this.serviceAlloc(), task).finally(() => {
        this.registering.delete(task);
        this.registered.add(task);
        this.emit();
      });
    } else if (st.state !== "running" && this.registered.delete(task)) {
      void this.d.services.deregister(this.serviceAlloc(), task);
    }
    this.emit();
    const failed = [...this.tasks.values()].find((t) => t.state.state === "dead" && t.state.failed);
    if (failed && !this.stopping) void this.stop(`sibling task failed: ${failed.state.events.at(-1)?.message ?? "failed"}`);
    else this.advance();
  }

  private aggregate(): RunnerStatus {
    const states = [...this.tasks.values()].map((t) => t.state);
    // Terminal once every task is dead: poststop tasks still run after a failure.
    const poststopLeft = [...this.tasks.values()].some((t) => phaseOf(t.spec) === "poststop" && t.state.state !== "dead");
    if (states.some((s) => s.state === "dead" && s.failed) && !poststopLeft) return "failed";
    if (states.every((s) => s.state === "dead")) return "complete";
    // Running once the main tasks run; lifecycle tasks come and go around them.
    const main = [...this.tasks].filter(([, t]) => phaseOf(t.spec) === "main");
    const allRunning = main.every(([name, t]) => t.state.state === "running" && !this.registering.has(name));
    if (allRunning) return "running";
    return this.status === "running" ? "running" : "pending";
  }

  /** Reports the current state; once complete or failed has been reported nothing changes any more. */
  private emit(): void {
    if (this.terminal || this.detached) return;
    this.status = this.aggregate();
    if (this.status === "complete" || this.status === "failed") {
      this.terminal = true;
      for (const t of this.templates.values()) t.stop(); // nothing left to re-render for
      this.d.forget(this.alloc.id);
      // Container tasks: their runtime state, root (overlay) and cgroups.
      for (const t of this.alloc.groupSpec.tasks) {
        if (t.driver === "container") this.d.containers?.release({ allocId: this.alloc.id, task: t.name }, join(this.dir, "containers", t.name));
      }
      this.d.containers?.networks.release(this.alloc.id); // after the containers: the namespace is free

      this.releaseMounts();
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
    for (const t of this.templates.values()) t.stop();
    if (!this.terminal) this.description = reason.slice(0, 1000);
    // Everything but the poststop tasks stops; then those run (if the main tasks ever started) and are waited for.
    const all = [...this.tasks.values()];
    await Promise.all(all.filter((t) => phaseOf(t.spec) !== "poststop").map((t) => t.stop(reason)));
    this.advance();
    await Promise.all(all.filter((t) => phaseOf(t.spec) === "poststop").map((t) => t.done));
    await Promise.all([...this.registered].map((t) => this.d.services.deregister(this.serviceAlloc(), t)));
    this.registered.clear();
    for (const l of this.logs) l.close();
    this.emit();
  }

  /**
   * An operator's restart (alloc restart), in place: the named task, or
   * every running task; `allTasks` re-runs the whole lifecycle (prestart
   * tasks again before the main tasks, as Nomad's RestartAll). Poststop
   * tasks are not restarted. Resolves with the tasks restarted.
   */
  async restart(task: string | undefined, allTasks: boolean, reason = "restart requested"): Promise<string[]> {
    if (this.stopping || this.terminal || this.detached) return [];
    const candidates = [...this.tasks].filter(([name, t]) => (task === undefined ? phaseOf(t.spec) !== "poststop" : name === task));
    if (!allTasks) {
      const done = await Promise.all(candidates.map(async ([name, t]) => ((await t.restart(reason)) ? name : undefined)));
      return done.filter((n): n is string => n !== undefined);
    }
    const held = await Promise.all(candidates.map(async ([name, t]) => ((await t.restart(reason, true)) ? name : undefined)));
    const names = held.filter((n): n is string => n !== undefined);
    for (const name of names) this.launched.delete(name);
    this.advance();
    return names;
  }

  /** Sends a signal to the named task, or to every running task; the tasks signalled. */
  signal(sig: NodeJS.Signals, task: string | undefined): string[] {
    if (this.stopping || this.detached) return [];
    return [...this.tasks].filter(([name, t]) => (task === undefined || name === task) && t.signal(sig)).map(([name]) => name);
  }

  /**
   * How to run `argv` inside a running task (`alloc exec`): the task named,
   * or the allocation's only task. Why not, as a refusal the route answers.
   */
  execPlan(task: string | undefined, argv: readonly string[]): ExecPlan {
    const names = [...this.tasks.keys()];
    const name = task ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined) return { kind: "invalid", error: `the allocation has several tasks: name one (tasks: ${names.join(", ")})` };
    const t = this.tasks.get(name);
    const plan = this.execPlans.get(name);
    if (!t || !plan) return { kind: "invalid", error: `allocation has no task "${name}" (tasks: ${names.join(", ")})` };
    if (this.stopping || this.detached || t.state.state !== "running") return { kind: "refused", error: `task "${name}" of allocation ${this.alloc.id} is not running` };
    return plan(argv);
  }

  /** Every task ended by itself (completed or failed): nothing left to run. */
  get finished(): boolean {
    return [...this.tasks.values()].every((t) => t.state.state === "dead");
  }

  get stopped(): boolean {
    return this.stopping;
  }
}

/** A container task in its allocation's own network (no network_mode: "host" shares the node's, "none" has none). */
function bridged(t: { networkMode?: string }): boolean {
  return t.networkMode === undefined;
}
