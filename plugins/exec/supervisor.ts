// Brings this agent's running allocations in line with what the leader
// lists for its node: start what is wanted and not running, stop what is
// stopped (desired "stop", or no longer listed), forget and clean up what
// the leader garbage-collected. Allocation folders (logs included) stay
// until the leader forgets the allocation, so `corral alloc logs` works on
// finished allocations.
//
// Tasks outlive the agent: when the plugin starts, the tasks recorded in
// processes.json are taken up again as the leader lists their allocations
// (adopted if still running), and only the processes of allocations no
// longer wanted here are killed. Stopping the plugin lets go of the tasks
// without stopping them.
import { existsSync, readdirSync } from "node:fs";
import { removeAllocDir } from "./volumes.ts";
import type { Logger } from "../../core/sdk/index.ts";
import { AllocRunner, type AllocRunnerDeps, type NodeAlloc } from "./alloc-runner.ts";
import type { StatusReporter } from "./reporter.ts";
import { killRecorded, type ProcessEntry } from "./processes.ts";

const TERMINAL = new Set(["complete", "failed", "lost"]);

export class Supervisor {
  readonly runners = new Map<string, AllocRunner>();
  private closed = false;
  /** Tasks of the previous agent (or plugin instance), by allocation, until the leader's list says what to do with them. */
  private recorded = new Map<string, Map<string, ProcessEntry>>();
  private networksSwept = false;

  constructor(private deps: AllocRunnerDeps, private reporter: StatusReporter, private log: Logger, recorded: readonly ProcessEntry[] = []) {
    for (const e of recorded) {
      const tasks = this.recorded.get(e.allocId) ?? new Map<string, ProcessEntry>();
      tasks.set(e.task, e);
      this.recorded.set(e.allocId, tasks);
    }
  }

  /** One answer of the allocation watch. Runs quickly: stops run in the background. */
  reconcile(allocs: readonly NodeAlloc[]): void {
    if (this.closed) return;
    const listed = new Set(allocs.map((a) => a.id));
    for (const a of allocs) {
      const runner = this.runners.get(a.id);
      const wanted = a.desiredStatus === "run" && !TERMINAL.has(a.clientStatus);
      if (wanted && !runner) this.start(a);
      else if (wanted && runner && !runner.stopped) runner.update(a); // an in-place update: new group policies, same processes
      else if (!wanted && runner && !runner.stopped && !runner.finished) {
        void runner.stop(a.desiredDescription || "allocation stopped");
      } else if (!runner && a.desiredStatus === "stop" && !TERMINAL.has(a.clientStatus)) {
        // Stopped before it ran here (or before this agent restarted): nothing runs, say so.
        this.reporter.report({ allocId: a.id, clientStatus: "complete", description: a.desiredDescription || "stopped before it ran", taskStates: a.taskStates ?? {} });
      }
    }
    for (const [id, runner] of this.runners) {
      if (listed.has(id)) continue;
      // Garbage-collected by the leader (or moved): stop it if it still runs, then forget it.
      this.runners.delete(id);
      this.reporter.forget(id);
      void runner.stop("allocation no longer assigned to this node").then(() => this.removeDir(runner.dir));
    }
    this.killUnwanted();
    this.sweepDirs(listed);
    if (!this.networksSwept) {
      // Once, at the first answer: container networks an earlier agent left for allocations not taken up here.
      this.networksSwept = true;
      const removed = this.deps.containers?.networks.sweep(new Set(this.runners.keys())) ?? [];
      if (removed.length) this.log.info("container networks of allocations no longer here removed", { allocs: removed });
    }
  }

  /**
   * Recorded tasks whose allocation the leader's first answer did not want
   * here (stopped, lost, moved, collected while the agent was away): their
   * processes are killed, their records dropped. Wanted ones were taken up
   * by start().
   */
  private killUnwanted(): void {
    if (this.recorded.size === 0) return;
    const leftover = [...this.recorded.entries()];
    this.recorded.clear();
    const entries = leftover.flatMap(([, tasks]) => [...tasks.values()]);
    void killRecorded(entries, this.deps.killTimeoutMs).then((killed) => {
      if (killed.length) this.log.warn("killed task processes of allocations no longer wanted on this node", { tasks: killed.map((e) => `${e.allocId}/${e.task}`) });
      for (const [allocId] of leftover) if (!this.runners.has(allocId)) this.deps.forget(allocId);
    });
  }

  private start(a: NodeAlloc): void {
    const runner = new AllocRunner(a, this.deps);
    this.runners.set(a.id, runner);
    const recorded = this.recorded.get(a.id);
    this.recorded.delete(a.id);
    this.log.info(recorded ? "resuming allocation" : "starting allocation", { alloc: a.id, job: `${a.namespace}/${a.jobId}`, group: `${a.groupName}[${a.taskGroupIndex}]` });
    try {
      runner.start(recorded);
    } catch (err) {
      this.log.error("allocation could not start", { alloc: a.id, err });
      void runner.stop(`could not start: ${(err as Error).message}`);
    }
  }

  /** Folders of allocations neither running here nor listed by the leader. */
  private sweepDirs(listed: ReadonlySet<string>): void {
    if (!existsSync(this.deps.allocsDir)) return;
    for (const id of readdirSync(this.deps.allocsDir)) {
      if (!listed.has(id) && !this.runners.has(id)) this.removeDir(`${this.deps.allocsDir}/${id}`);
    }
  }

  private removeDir(dir: string): void {
    try {
      removeAllocDir(dir); // never through a host volume's bind mount (volumes.ts)
    } catch (err) {
      this.log.warn("could not remove an allocation folder", { dir, err });
    }
  }

  /** Rotates the log files of running tasks that grew past max_log_file_bytes. */
  rotateLogs(): void {
    for (const r of this.runners.values()) r.rotateLogs();
  }

  /** A runner by allocation id or unique prefix (4+ characters), like the API accepts. */
  find(idOrPrefix: string): AllocRunner | undefined {
    const exact = this.runners.get(idOrPrefix);
    if (exact || idOrPrefix.length < 4) return exact;
    const found = [...this.runners.values()].filter((r) => r.alloc.id.startsWith(idOrPrefix));
    return found.length === 1 ? found[0] : undefined;
  }

  /**
   * Lets go of every allocation, leaving its tasks running (plugin disabled
   * or reloaded, node shutting down or upgraded): the next plugin instance
   * or agent adopts them from processes.json. Allocation stops (job stop,
   * drain) are how tasks stop.
   */
  detach(): void {
    this.closed = true;
    for (const r of this.runners.values()) if (!r.stopped) r.detach();
  }
}
