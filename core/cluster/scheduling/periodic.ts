// The leader's periodic launcher: one timer per periodic job, armed from
// the replicated state (periodic-plan.ts), re-armed whenever a job or a
// launch changes. Each launch is a LaunchChildJob entry whose key is the
// launch time: the applier refuses a time already recorded, so two leaders
// (an old one not yet aware it was deposed) cannot both launch it, and a new
// leader re-computing the schedule from the log neither misses nor repeats
// a launch.
import { randomUUID } from "node:crypto";
import type { Command } from "../../state/commands.ts";
import type { StateReader } from "../../state/reader.ts";
import type { ProposeOutcome } from "../../state/replicator.ts";
import type { Logger } from "../../log.ts";
import type { JobRow } from "../../store/schema-jobs.ts";
import { childJob, periodicChildId } from "./children.ts";
import { planLaunches } from "./periodic-plan.ts";

export interface PeriodicDeps {
  state: StateReader;
  propose(cmd: Command): Promise<ProposeOutcome>;
  log: Logger;
  now(): number;
  newId?: () => string;
}

const key = (ns: string, id: string) => `${ns}\u0000${id}`;
/** Longest single setTimeout; a later launch re-arms on the way. */
const MAX_TIMER_MS = 60 * 60_000;
const RETRY_MS = 1000;

export class PeriodicLauncher {
  /** Armed timers, with the job row's modify index they were computed from. */
  private timers = new Map<string, { at: number; timer: ReturnType<typeof setTimeout>; modifyIndex: number }>();
  /** Launch times skipped for prohibit_overlap (not recorded in the log), per job. */
  private skipped = new Map<string, number>();
  private running = false;
  private launching = new Set<string>();

  constructor(private d: PeriodicDeps) {}

  start(): void {
    this.running = true;
    this.sync();
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.skipped.clear();
  }

  /** Re-read every periodic job and (re)arm its timer; launches what is due. */
  sync(): void {
    if (!this.running) return;
    const wanted = new Set<string>();
    for (const j of this.d.state.jobs.listJobs()) {
      const p = j.spec.periodic;
      if (!p || !p.enabled || j.stop || j.spec.parentId !== undefined) continue;
      const k = key(j.namespace, j.id);
      wanted.add(k);
      // Unchanged since its timer was armed: nothing to recompute (sync runs on every job registration).
      if (this.timers.get(k)?.modifyIndex === j.modifyIndex) continue;
      if (!this.launching.has(k)) this.arm(j);
    }
    for (const [k, t] of this.timers) {
      if (wanted.has(k)) continue;
      clearTimeout(t.timer);
      this.timers.delete(k);
    }
  }

  /** The newest scheduled launch recorded (or skipped here), else when the job was registered. */
  private last(j: JobRow): number {
    const rec = this.d.state.jobs.launches(j.namespace, j.id, "periodic")[0];
    const recorded = rec ? Number(rec.key) * 1000 : j.submittedAt;
    return Math.max(recorded, this.skipped.get(key(j.namespace, j.id)) ?? 0);
  }

  private arm(j: JobRow): void {
    const k = key(j.namespace, j.id);
    const now = this.d.now();
    const plan = planLaunches(j.spec.periodic!, this.last(j), now);
    if (plan.due.length) {
      void this.launch(j, plan.due);
      return;
    }
    const existing = this.timers.get(k);
    if (plan.next === null) {
      if (existing) clearTimeout(existing.timer);
      this.timers.delete(k);
      return;
    }
    if (existing?.at === plan.next) {
      existing.modifyIndex = j.modifyIndex;
      return;
    }
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(k);
      const fresh = this.d.state.jobs.getJob(j.namespace, j.id);
      if (fresh && this.running) this.arm(fresh);
    }, Math.min(MAX_TIMER_MS, Math.max(0, plan.next - now)));
    this.timers.set(k, { at: plan.next, timer, modifyIndex: j.modifyIndex });
  }

  private async launch(j: JobRow, times: number[]): Promise<void> {
    const k = key(j.namespace, j.id);
    this.launching.add(k);
    let failed = false;
    try {
      for (const t of times) {
        if (!this.running) return;
        const p = j.spec.periodic!;
        if (p.prohibitOverlap && this.childRunning(j)) {
          this.d.log.info("periodic: launch skipped, an earlier launch still runs (prohibit_overlap)", { job: `${j.namespace}/${j.id}`, at: t });
          this.skipped.set(k, t);
          continue;
        }
        const childId = periodicChildId(j.id, t);
        const out = await this.d.propose({
          type: "LaunchChildJob", v: 1, at: this.d.now(), kind: "periodic", namespace: j.namespace, parentId: j.id,
          key: String(Math.floor(t / 1000)), job: childJob(j.spec, childId), evalId: (this.d.newId ?? randomUUID)(),
        }).catch((err) => ({ index: 0, result: { ok: false as const, code: "PROPOSE_FAILED", message: String((err as Error)?.message ?? err) } }));
        if (out.result.ok) this.d.log.info("periodic: launched", { job: `${j.namespace}/${j.id}`, child: childId });
        else if (out.result.code === "LAUNCH_EXISTS") {
          // Recorded by an earlier leader, or a forced launch took this second's child id: move past it.
          this.d.log.info("periodic: launch already recorded", { job: `${j.namespace}/${j.id}`, at: t, reason: out.result.message });
          this.skipped.set(k, Math.max(this.skipped.get(k) ?? 0, t));
        }
        else {
          // Not leading any more, or the job changed: the next leader (or sync) decides again.
          this.d.log.warn("periodic: launch failed", { job: `${j.namespace}/${j.id}`, at: t, reason: out.result.message });
          failed = true;
          return;
        }
      }
    } finally {
      this.launching.delete(k);
      // After a failure, try again a little later rather than at once (no busy loop while leadership moves).
      if (failed) setTimeout(() => this.sync(), RETRY_MS);
      else this.sync();
    }
  }

  /** A child of this job that is not finished yet. */
  private childRunning(j: JobRow): boolean {
    return this.d.state.jobs.listJobs(j.namespace).some((c) => c.spec.parentId === j.id && !c.stop && c.status !== "dead");
  }
}
