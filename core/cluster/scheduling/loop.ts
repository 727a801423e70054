// The leader's scheduling loop: the I/O around core/scheduler. It runs only
// while this node is the active Raft leader (core/node.ts wires it to
// raft.onLeadershipChange), and rebuilds everything it holds from the
// replicated state when it takes over, so a failover loses nothing:
// pending evaluations are re-queued, blocked ones re-parked, nodes that went
// down with live allocations re-evaluated.
//
// Evaluations are processed one at a time: EvalQueue order (priority, then
// dominant resource fairness between namespaces, then FIFO), a snapshot of
// the state, evaluate() (pure), CommitPlan. A plan the FSM refuses (the
// state moved: plan verification) is re-planned from fresh state, up to
// PLAN_ATTEMPTS times, then the evaluation is marked failed.
import { stableJson } from "../../stable-json.ts";
import { randomUUID } from "node:crypto";
import type { Command } from "../../state/commands.ts";
import type { AppliedEntry } from "../../state/fsm.ts";
import type { StateReader } from "../../state/reader.ts";
import type { ProposeOutcome } from "../../state/replicator.ts";
import type { EventBus } from "../../events.ts";
import type { Logger } from "../../log.ts";
import type { EvalRow, JobRow } from "../../store/schema-jobs.ts";
import type { NodeRow } from "../../store/schema.ts";
import { EvalQueue, jobDemand, jobKey, type Evaluation, type Job } from "../../scheduler/index.ts";
import { evaluate, type EvalInput, type EvalOutcome } from "./evaluate.ts";
import { reactionsTo, type JobRef, type Reaction } from "./triggers.ts";
import { fairnessInput, freeOnNode, nodeViews } from "./views.ts";
import { LiveCluster } from "./live-cluster.ts";
import { HealthWatcher } from "./watcher.ts";
import { probeSize } from "../../debug-heap.ts";
import { PeriodicLauncher } from "./periodic.ts";

export interface SchedulingDeps {
  state: StateReader;
  propose(cmd: Command): Promise<ProposeOutcome>;
  isLeader(): boolean;
  bus: EventBus;
  log: Logger;
  /** [leader] scheduler_preemption. */
  preemption: boolean;
  /** leader.job_tracked_versions, for the RegisterJob of an auto_revert. */
  jobTrackedVersions?: number;
  now?: () => number;
  newId?: () => string;
  /** How often allocation health and drain deadlines are checked. */
  watchIntervalMs?: number;
}

const PLAN_ATTEMPTS = 3;

export class SchedulingLoop {
  private queue = new EvalQueue();
  private active = false;
  private busy = false;
  /** Bumps on every leadership change: work started under an old term is dropped. */
  private generation = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  /** Jobs with an evaluation waiting in the ready queue: a new trigger adds nothing. */
  private queuedJobs = new Set<string>();
  /** Jobs with a delayed (reschedule) evaluation, and when it runs. */
  private delayed = new Map<string, number>();
  private unsubscribe?: () => void;
  private watcher: HealthWatcher;
  private periodic: PeriodicLauncher;
  readonly now: () => number;
  private newId: () => string;
  private nodesRead?: { index: number; rows: NodeRow[] };
  /** Every live allocation, followed from the allocations table's changes (liveCluster()). */
  private live?: { nodesIndex: number; draining: string; allocsIndex: number; cluster: LiveCluster; capacity: { cpuMhz: number; memoryMb: number } };

  constructor(private d: SchedulingDeps) {
    probeSize("scheduling.delayed", () => this.delayed.size);
    probeSize("scheduling.queuedJobs", () => this.queuedJobs.size);
    probeSize("scheduling.timers", () => this.timers.size);
    this.now = d.now ?? Date.now;
    this.newId = d.newId ?? randomUUID;
    this.watcher = new HealthWatcher({
      state: d.state, propose: (c) => this.propose(c), log: d.log, now: this.now, newId: this.newId, keepVersions: d.jobTrackedVersions,
      evaluate: (jobs, why) => this.createEvals(jobs, why),
    });
    this.periodic = new PeriodicLauncher({ state: d.state, propose: (c) => this.propose(c), log: d.log, now: this.now, newId: this.newId });
  }

  start(): void {
    this.unsubscribe = this.d.bus.subscribe("applied", (e) => this.onApplied(e as AppliedEntry));
    if (this.d.isLeader()) this.leadershipChanged(true);
  }

  stop(): void {
    this.unsubscribe?.();
    this.leadershipChanged(false);
  }

  stats() {
    return { active: this.active, ready: this.queue.readyCount, blocked: this.queue.blockedCount };
  }

  leadershipChanged(isLeader: boolean): void {
    this.generation++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue = new EvalQueue();
    this.queuedJobs.clear();
    this.delayed.clear();
    this.live = undefined; // a new term (or a restored snapshot) reads these afresh
    this.watcher.reset();
    this.periodic.stop();
    this.active = isLeader;
    if (!isLeader) return;
    this.restore();
    this.periodic.start();
    this.every(this.d.watchIntervalMs ?? 1000, () => this.watcher.tick());
    this.pump();
  }

  /** The plan an evaluation of `job` would make now, committing nothing (POST /v1/job/{id}/plan). */
  dryRun(job: Job): EvalOutcome {
    const existing = this.d.state.jobs.getJob(job.namespace, job.id);
    const same = existing && stableJson(existing.spec) === stableJson(job);
    const version = !existing ? 0 : same ? existing.version : existing.version + 1;
    const row: JobRow = {
      namespace: job.namespace, id: job.id, type: job.type, priority: job.priority, version, status: existing?.status ?? "pending",
      stop: false, spec: job, stableVersion: existing?.stableVersion ?? null, submitIndex: 0, submittedAt: this.now(), createIndex: 0, modifyIndex: 0,
    };
    return evaluate(this.gather(`dry-run-${this.newId()}`, job.namespace, job.id, row));
  }

  /** Re-queue what the state says is outstanding (a new leader, or a restart). */
  private restore(): void {
    const s = this.d.state;
    // Blocked ones run once too: capacity may have changed while no one was leading.
    for (const e of s.jobs.listEvals({ status: ["pending", "blocked"] }).reverse()) this.enqueueRow(e);
    const down = new Set(s.listNodes().filter((n) => n.status === "down").map((n) => n.id));
    const draining = new Set(s.jobs.drains().map((d) => d.nodeId));
    const jobs = new Map<string, JobRef>();
    for (const a of s.jobs.liveAllocs()) {
      if (down.has(a.nodeId) || draining.has(a.nodeId) || !s.getNode(a.nodeId)) jobs.set(jobKey(a.namespace, a.jobId), { namespace: a.namespace, jobId: a.jobId, priority: a.priority });
    }
    if (jobs.size) void this.createEvals([...jobs.values()], "leader-failover");
  }

  private onApplied(entry: AppliedEntry): void {
    if (!this.active) return;
    let reactions: Reaction[];
    try {
      reactions = reactionsTo(entry, this.d.state);
    } catch (err) {
      this.d.log.warn("scheduling: reacting to an entry failed", { index: entry.index, err });
      return;
    }
    if (reactions.some((r) => r.kind === "reset")) return this.leadershipChanged(true);
    const t = entry.command.type;
    if (t === "RegisterJob" || t === "DeregisterJob" || t === "LaunchChildJob") this.periodic.sync();
    for (const r of reactions) {
      if (r.kind === "enqueue") {
        const e = this.d.state.jobs.getEval(r.evalId);
        if (e) this.enqueueRow(e);
      } else if (r.kind === "evaluate") void this.createEvals(r.jobs, r.triggeredBy, r.nodeId);
      else if (r.kind === "capacity") this.capacityChanged(r.nodeId, entry.index);
      else if (r.kind === "unblock") this.queue.unblockJob(r.namespace, r.jobId);
    }
    this.pump();
  }

  private evaluation(e: EvalRow): Evaluation {
    const job = this.d.state.jobs.getJob(e.namespace, e.jobId);
    return { id: e.id, namespace: e.namespace, jobId: e.jobId, priority: e.priority, demand: job ? jobDemand(job.spec) : undefined };
  }

  private enqueueRow(e: EvalRow): void {
    if (e.status !== "pending" && e.status !== "blocked") return;
    const wait = e.waitUntil - this.now();
    if (wait > 0) {
      this.after(wait, () => this.enqueueRow(this.d.state.jobs.getEval(e.id) ?? e));
      return;
    }
    if (this.queue.enqueue(this.evaluation(e))) this.queuedJobs.add(jobKey(e.namespace, e.jobId));
  }

  /** New pending evaluations for jobs (one per job, none for a job already queued). */
  async createEvals(jobs: JobRef[], triggeredBy: string, nodeId = "", waitUntil = 0): Promise<void> {
    const fresh = jobs.filter((j) => waitUntil > 0 || !this.queuedJobs.has(jobKey(j.namespace, j.jobId)));
    if (fresh.length === 0 || !this.active) return;
    const evals = fresh.map((j) => ({
      id: this.newId(), namespace: j.namespace, jobId: j.jobId, priority: j.priority, triggeredBy, nodeId,
      status: "pending" as const, description: "", waitUntil,
    }));
    await this.propose({ type: "UpdateEvaluation", v: 1, at: this.now(), evals }).catch((err) => {
      this.d.log.warn("scheduling: could not create evaluations", { triggeredBy, err });
    });
  }

  private capacityChanged(nodeId: string, index: number): void {
    const node = this.d.state.getNode(nodeId);
    if (!node || node.status !== "ready") return;
    const free = freeOnNode(node, this.d.state.jobs.listAllocs({ nodeId }));
    this.queue.capacityChanged({ nodeId, free, index });
  }

  private pump(): void {
    if (this.busy || !this.active || this.queue.readyCount === 0) return;
    this.busy = true;
    const gen = this.generation;
    void (async () => {
      try {
        while (this.active && gen === this.generation && this.queue.readyCount > 0) {
          const fairness = this.queue.readyCount > 1 ? this.fairness() : undefined;
          const ev = this.queue.dequeue(fairness)!;
          this.queuedJobs.delete(jobKey(ev.namespace, ev.jobId));
          await this.process(ev, gen);
        }
      } finally {
        this.busy = false;
        if (gen !== this.generation) this.pump();
      }
    })();
  }

  private async process(ev: Evaluation, gen: number): Promise<void> {
    const row = this.d.state.jobs.getEval(ev.id);
    if (!row || (row.status !== "pending" && row.status !== "blocked")) return;
    let reason = "";
    for (let attempt = 1; attempt <= PLAN_ATTEMPTS && gen === this.generation; attempt++) {
      let outcome: EvalOutcome;
      try {
        outcome = evaluate(this.gather(ev.id, row.namespace, row.jobId, this.d.state.jobs.getJob(row.namespace, row.jobId), row));
      } catch (err) {
        this.d.log.error("scheduling: evaluation crashed", { evalId: ev.id, err });
        reason = `scheduler error: ${(err as Error).message}`;
        break;
      }
      const snapshotIndex = this.d.state.appliedIndex();
      const out = await this.propose({ ...outcome.commit, at: this.now() } as Command).catch((err) => ({ index: 0, result: { ok: false as const, code: "PROPOSE_FAILED", message: String((err as Error)?.message ?? err) } }));
      if (out.result.ok) return this.afterCommit(ev, row, outcome, snapshotIndex);
      reason = out.result.message;
      if (out.result.code !== "PLAN_REJECTED" || /already (complete|failed|canceled)/.test(reason)) return;
      this.d.log.info("scheduling: plan refused, re-planning", { evalId: ev.id, attempt, reason });
    }
    if (gen !== this.generation) return;
    await this.propose({
      type: "UpdateEvaluation", v: 1, at: this.now(),
      evals: [{ id: row.id, namespace: row.namespace, jobId: row.jobId, priority: row.priority, triggeredBy: row.triggeredBy, nodeId: row.nodeId, status: "failed", description: reason.slice(0, 1000), waitUntil: 0 }],
    }).catch(() => undefined);
  }

  private afterCommit(ev: Evaluation, row: EvalRow, outcome: EvalOutcome, snapshotIndex: number): void {
    const c = outcome.commit;
    if (c.placements.length || c.stops.length) {
      this.d.log.info("scheduling: plan committed", { evalId: ev.id, job: `${row.namespace}/${row.jobId}`, placed: c.placements.length, stopped: c.stops.length, status: c.evalStatus });
    }
    if (c.evalStatus === "blocked") this.queue.block(ev, outcome.needs, snapshotIndex);
    // The queue parks one evaluation per job: older blocked ones are superseded by this outcome.
    const stale = this.d.state.jobs.listEvals({ namespace: row.namespace, jobId: row.jobId, status: ["blocked"] }).filter((e) => e.id !== ev.id);
    if (stale.length) {
      void this.propose({
        type: "UpdateEvaluation", v: 1, at: this.now(),
        evals: stale.map((e) => ({ id: e.id, namespace: e.namespace, jobId: e.jobId, priority: e.priority, triggeredBy: e.triggeredBy, nodeId: e.nodeId, status: "canceled" as const, description: `superseded by ${ev.id}`, waitUntil: 0 })),
      }).catch(() => undefined);
    }
    if (outcome.retryAt !== undefined) {
      const key = jobKey(row.namespace, row.jobId);
      const known = this.delayed.get(key);
      if (known === undefined || known > outcome.retryAt || known < this.now()) {
        // Entries whose time has passed mean nothing any more (the check above treats them as absent):
        // dropped here, or every job that was ever rescheduled kept one for the leader's life.
        for (const [k, at] of this.delayed) if (at < this.now()) this.delayed.delete(k);
        this.delayed.set(key, outcome.retryAt);
        void this.createEvals([{ namespace: row.namespace, jobId: row.jobId, priority: row.priority }], "reschedule", "", outcome.retryAt);
      }
    }
  }

  private gather(evalId: string, namespace: string, jobId: string, job: JobRow | undefined, _row?: EvalRow): EvalInput {
    const s = this.d.state;
    const cluster = this.liveCluster();
    return {
      evalId, namespace, jobId, now: this.now(), job,
      nodes: this.nodes(), drains: cluster.drains,
      jobAllocs: s.jobs.listAllocs({ namespace, jobId }), cluster: cluster.cluster,
      deployments: s.jobs.listDeployments({ namespace, jobId }),
      preemption: this.d.preemption, newId: this.newId,
    };
  }

  /**
   * Every node, read again only when the nodes table changed. Each evaluation (and each
   * fairness pick of a busy queue) read and decoded every node row; heartbeats write
   * nothing, so in a burst of registrations the list is the same for every evaluation.
   * The scheduler treats its input as read-only (evaluate() is pure).
   */
  private nodes(): NodeRow[] {
    const index = this.d.state.tableIndex("nodes");
    if (this.nodesRead?.index !== index) this.nodesRead = { index, rows: this.d.state.listNodes() };
    return this.nodesRead.rows;
  }

  /** DRF input for a pick between namespaces: their live usage against the ready nodes' capacity. */
  private fairness() {
    const l = this.liveCluster();
    return { usage: l.cluster.usage(), capacity: l.capacity };
  }

  /**
   * Every live allocation of the cluster, over the current node list and drains. Each evaluation
   * (and each fairness pick) read every live allocation again: O(allocations placed) each, so a
   * burst of jobs was quadratic. Now only what changed since the last look is read (the rows
   * written after the allocations table's index then, the nodes that lost rows to deletions) and
   * applied to the kept LiveCluster; a new node list or drain builds it again (node positions
   * follow the list's order, as a fresh snapshot's would).
   */
  private liveCluster(): { cluster: LiveCluster; drains: ReturnType<StateReader["jobs"]["drains"]>; capacity: { cpuMhz: number; memoryMb: number } } {
    const s = this.d.state;
    const nodes = this.nodes();
    const nodesIndex = this.nodesRead!.index;
    const allocsIndex = s.tableIndex("allocations");
    // Which nodes drain is part of their views: compared by content (a small table, read per evaluation before too).
    const drains = s.jobs.drains();
    const draining = drains.map((d) => d.nodeId).sort().join("\n");
    const l = this.live;
    if (!l || l.nodesIndex !== nodesIndex || l.draining !== draining || allocsIndex < l.allocsIndex) {
      const cluster = new LiveCluster(nodeViews(nodes, drains), s.jobs.liveAllocsLite());
      this.live = { nodesIndex, draining, allocsIndex, cluster, capacity: fairnessInput(nodes, []).capacity };
      return { cluster, drains, capacity: this.live.capacity };
    }
    if (allocsIndex > l.allocsIndex) {
      const { changed, deletedOnNodes } = s.jobs.allocsChangedSince(l.allocsIndex);
      for (const row of changed) l.cluster.apply(row);
      for (const nodeId of new Set(deletedOnNodes)) l.cluster.replaceNode(nodeId, s.jobs.liveAllocsLiteOnNode(nodeId));
      l.allocsIndex = allocsIndex;
    }
    return { cluster: l.cluster, drains, capacity: l.capacity };
  }

  private async propose(cmd: Command): Promise<ProposeOutcome> {
    if (!this.active) throw new Error("not the leader");
    return this.d.propose(cmd);
  }

  private after(ms: number, fn: () => void): void {
    const gen = this.generation;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (gen === this.generation && this.active) {
        fn();
        this.pump();
      }
    }, Math.max(0, ms));
    this.timers.add(t);
  }

  /** A repeating task of this term: the next run is armed when the previous one ends, never overlapping. */
  private every(ms: number, fn: () => Promise<void> | void): void {
    const gen = this.generation;
    const tick = () => {
      if (gen !== this.generation) return;
      this.after(ms, () => {
        void Promise.resolve().then(fn).catch((err) => this.d.log.warn("scheduling: watcher failed", { err })).finally(tick);
      });
    };
    tick();
  }
}
