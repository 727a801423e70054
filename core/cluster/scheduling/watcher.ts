// The leader's periodic watcher: allocation health and deployment outcomes
// (health.ts decides, this proposes), auto_revert to the last stable
// version, and drain deadlines (a drain past its deadline re-evaluates the
// jobs still on the node, which then leave all at once).
import type { Command } from "../../state/commands.ts";
import type { StateReader } from "../../state/reader.ts";
import type { ProposeOutcome } from "../../state/replicator.ts";
import type { Logger } from "../../log.ts";
import type { AllocLean } from "../../state/domains/jobs-read.ts";
import { holdsResources } from "../../state/domains/jobs-common.ts";
import { assessHealth } from "./health.ts";
import { registerJobExtras } from "../../state/domains/jobs-commands.ts";
import { autoPromotions } from "./deployment-promote.ts";
import type { JobRef } from "./triggers.ts";
import { WatchedAllocs } from "./watched-allocs.ts";

export interface WatcherDeps {
  state: StateReader;
  propose(cmd: Command): Promise<ProposeOutcome>;
  evaluate(jobs: JobRef[], triggeredBy: string): Promise<void>;
  log: Logger;
  now(): number;
  newId(): string;
  /** Versions the job keeps (leader.job_tracked_versions). */
  keepVersions?: number;
}

export class HealthWatcher {
  /** Drain deadlines already acted on (node id + deadline). */
  private expired = new Set<string>();
  /** What the health check looks at, followed from the allocations changed since the last tick (watched-allocs.ts). */
  private watched?: { allocsIndex: number; allocs: WatchedAllocs };

  constructor(private d: WatcherDeps) {}

  /** Forget what was followed (a new term, a restored snapshot): the next tick reads afresh. */
  reset(): void {
    this.watched = undefined;
  }

  /**
   * The watched allocations brought up to date: the first tick reads the candidates; later ones
   * read only the rows written since the previous tick. A deletion since (its rows cannot be
   * named) or an allocations index that went back reads everything again.
   */
  private follow(): WatchedAllocs {
    const s = this.d.state;
    const index = s.tableIndex("allocations");
    const w = this.watched;
    if (w && index >= w.allocsIndex) {
      if (index === w.allocsIndex) return w.allocs;
      const { changed, deletedOnNodes } = s.jobs.allocsLeanChangedSince(w.allocsIndex);
      if (deletedOnNodes.length === 0) {
        for (const row of changed) w.allocs.apply(row);
        w.allocsIndex = index;
        return w.allocs;
      }
    }
    this.watched = { allocsIndex: index, allocs: new WatchedAllocs(s.jobs.healthCandidates()) };
    return this.watched.allocs;
  }

  async tick(): Promise<void> {
    await this.health();
    await this.autoPromote();
    await this.deadlines();
  }

  /** update.auto_promote: promotes a deployment once all its canaries are healthy (deployment-promote.ts). */
  private async autoPromote(): Promise<void> {
    const s = this.d.state;
    for (const dep of autoPromotions(s.jobs.listDeployments({ status: "running" }), (id) => s.jobs.getAlloc(id))) {
      const r = await this.d.propose({ type: "PromoteDeployment", v: 1, at: this.d.now(), deploymentId: dep.id, evalId: this.d.newId() });
      if (r.result.ok) this.d.log.info("deployment auto-promoted", { deployment: dep.id, job: `${dep.namespace}/${dep.jobId}` });
    }
  }

  private async health(): Promise<void> {
    const s = this.d.state;
    const running = s.jobs.listDeployments({ status: "running" });
    const candidates = new Map<string, AllocLean>();
    // Rolling-out jobs' allocations and the candidates are followed from what changed (follow());
    // a job whose deployment just started is read once, then followed too.
    // Rows without group specs: nothing here reads task definitions (a job's spec is read once per tick).
    const watched = this.follow();
    watched.keepOnly(running);
    const allocsOf = (ns: string, id: string): AllocLean[] => {
      const known = watched.jobAllocs(ns, id);
      if (known) return known;
      watched.follow(ns, id, s.jobs.jobAllocsLean(ns, id));
      return watched.jobAllocs(ns, id)!;
    };
    for (const a of watched.candidates()) candidates.set(a.id, a);
    for (const dep of running) {
      for (const a of allocsOf(dep.namespace, dep.jobId)) {
        if (a.deploymentId === dep.id && a.health === "" && a.desiredStatus === "run") candidates.set(a.id, a);
      }
    }
    if (candidates.size === 0 && running.length === 0) return;
    // One read of the task checks and one of each job per tick, however many allocations wait for a verdict.
    const checks = s.jobs.taskCheckStatuses();
    const jobs = new Map<string, ReturnType<typeof s.jobs.getJob>>();
    const out = assessHealth({
      now: this.d.now(), candidates: [...candidates.values()], running,
      checks: (a) => checks(a.nodeId, a.id),
      job: (ns, id) => {
        const key = `${ns}\u0000${id}`;
        if (!jobs.has(key)) jobs.set(key, s.jobs.getJob(ns, id));
        return jobs.get(key);
      },
      jobAllocs: allocsOf,
      groupSpec: (id) => s.jobs.getAlloc(id)?.groupSpec,
    });
    if (out.health.length === 0 && out.deployments.length === 0) return;
    const r = await this.d.propose({ type: "UpdateDeployment", v: 1, at: this.d.now(), health: out.health, deployments: out.deployments });
    if (!r.result.ok) return;
    for (const dep of out.deployments) this.d.log.info("deployment " + dep.status, { deployment: dep.id, description: dep.description });
    for (const rv of out.reverts) await this.revert(rv);
  }

  private async revert(rv: { namespace: string; jobId: string; stableVersion: number; failedVersion: number }): Promise<void> {
    const spec = this.d.state.jobs.jobVersion(rv.namespace, rv.jobId, rv.stableVersion);
    if (!spec) {
      this.d.log.warn("auto_revert: stable version no longer kept", { job: `${rv.namespace}/${rv.jobId}`, version: rv.stableVersion });
      return;
    }
    this.d.log.warn("auto_revert: rolling back to the last stable version", { job: `${rv.namespace}/${rv.jobId}`, from: rv.failedVersion, to: rv.stableVersion });
    await this.d.propose({
      type: "RegisterJob", at: this.d.now(), job: spec, evalId: this.d.newId(), revertedFrom: rv.failedVersion,
      ...registerJobExtras({ keepVersions: this.d.keepVersions, job: spec }),
    });
  }

  private async deadlines(): Promise<void> {
    const s = this.d.state;
    const now = this.d.now();
    const drains = s.jobs.drains();
    // Deadlines of drains that ended (or changed) are forgotten: one key per drain ever made otherwise.
    if (this.expired.size > 0) {
      const current = new Set(drains.map((d) => `${d.nodeId}@${d.deadlineAt}`));
      for (const k of this.expired) if (!current.has(k)) this.expired.delete(k);
    }
    for (const drain of drains) {
      const key = `${drain.nodeId}@${drain.deadlineAt}`;
      if (drain.deadlineAt === 0 || now < drain.deadlineAt || this.expired.has(key)) continue;
      this.expired.add(key);
      const jobs = new Map<string, JobRef>();
      for (const a of s.jobs.listAllocs({ nodeId: drain.nodeId })) {
        if (holdsResources(a)) jobs.set(`${a.namespace}\u0000${a.jobId}`, { namespace: a.namespace, jobId: a.jobId, priority: a.priority });
      }
      if (jobs.size) {
        this.d.log.info("drain deadline reached: stopping the remaining allocations", { node: drain.nodeId, allocations: jobs.size });
        await this.d.evaluate([...jobs.values()], "node-drain");
      }
    }
  }
}
