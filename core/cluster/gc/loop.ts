// The leader's garbage collector: every job_gc_interval it asks the state
// what has been terminal since before each threshold (core/state/domains/gc.ts)
// and proposes GarbageCollect entries until nothing is left (or a round's
// budget is spent: the next interval continues). Only the active Raft leader
// proposes; every leader-role node keeps its time table, so a new leader
// starts with what it witnessed itself. `collectNow` (PUT /v1/system/gc)
// ignores the thresholds: everything terminal goes, and every down node with
// nothing live on it. Nodes are cut by the time they went down (stored in the
// node row from the SetNodeStatus entry), not through the time table.
// Deleted KV keys' tombstones older than tombstone_ttl are reaped in the same
// round (ReapTombstones entries, core/state/domains/kv-tombstones.ts), and so
// are the catalog's (ReapCatalogTombstones, domains/catalog-tombstones.ts) and
// deleted variables' (ReapVariableTombstones, domains/variable-tombstones.ts).
import type { Logger } from "../../log.ts";
import type { Command } from "../../state/commands.ts";
import type { StateReader } from "../../state/reader.ts";
import type { CommandResult } from "../../state/result.ts";
import type { GcConfig } from "../../config/types.ts";
import { emptyCandidates, gcVersion, type GcCutoffs } from "../../state/domains/gc.ts";
import { TimeTable } from "./time-table.ts";

/** Entries proposed per round at most (each names up to GC_BATCH rows of each kind). */
const MAX_ENTRIES_PER_ROUND = 50;

export interface GcTotals {
  jobs: number;
  evals: number;
  allocs: number;
  deployments: number;
  nodes: number;
  /** KV tombstones reaped. */
  tombstones: number;
  /** Catalog tombstones reaped (deleted nodes, services, node checks). */
  catalogTombstones: number;
  /** Deleted variables' tombstones reaped. */
  variableTombstones: number;
}

export class GcLoop {
  private readonly table: TimeTable;
  private sampler?: ReturnType<typeof setInterval>;
  private collector?: ReturnType<typeof setInterval>;
  private running?: Promise<GcTotals>;

  constructor(private readonly o: {
    state: StateReader;
    propose: (c: Command) => Promise<{ index: number; result: CommandResult }>;
    isLeader: () => boolean;
    log: Logger;
    config: GcConfig;
    now?: () => number;
  }) {
    const c = o.config;
    this.table = new TimeTable(Math.max(c.jobThresholdMs, c.evalThresholdMs, c.deploymentThresholdMs, c.tombstoneTtlMs));
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  start(): void {
    const { config } = this.o;
    this.witness();
    // Witness often enough that the shortest threshold is resolved to about a quarter of itself (at most 10 s apart).
    const shortest = Math.min(config.jobThresholdMs, config.evalThresholdMs, config.deploymentThresholdMs, config.tombstoneTtlMs);
    this.sampler = setInterval(() => this.witness(), Math.max(100, Math.min(10_000, shortest / 4 || 10_000)));
    this.collector = setInterval(() => {
      if (this.o.isLeader()) void this.collect(false).catch((err) => this.o.log.warn("garbage collection failed", { err: String(err) }));
    }, config.intervalMs);
    this.sampler.unref?.();
    this.collector.unref?.();
  }

  stop(): void {
    clearInterval(this.sampler);
    clearInterval(this.collector);
  }

  private witness(): void {
    this.table.witness(this.o.state.appliedIndex(), this.now());
  }

  /** The cut-off index of each kind: the thresholds through the time table, or everything applied when forced. */
  cutoffs(force: boolean): GcCutoffs & { tombstones: number } {
    const applied = this.o.state.appliedIndex();
    if (force) return { job: applied, eval: applied, deployment: applied, nodeDownBefore: Number.MAX_SAFE_INTEGER, tombstones: applied };
    const { config } = this.o;
    const at = (ms: number) => (ms === 0 ? applied : this.table.indexAt(this.now() - ms));
    return {
      job: at(config.jobThresholdMs), eval: at(config.evalThresholdMs), deployment: at(config.deploymentThresholdMs),
      nodeDownBefore: this.now() - config.nodeThresholdMs, tombstones: at(config.tombstoneTtlMs),
    };
  }

  /** One collection (forced: thresholds ignored). Concurrent calls share the one running. */
  collectNow(force = true): Promise<GcTotals> {
    return this.collect(force);
  }

  private collect(force: boolean): Promise<GcTotals> {
    if (this.running) return this.running;
    this.running = this.round(force).finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(force: boolean): Promise<GcTotals> {
    this.witness();
    const cut = this.cutoffs(force);
    const totals: GcTotals = { jobs: 0, evals: 0, allocs: 0, deployments: 0, nodes: 0, tombstones: 0, catalogTombstones: 0, variableTombstones: 0 };
    let i = 0;
    for (; i < MAX_ENTRIES_PER_ROUND; i++) {
      const c = this.o.state.jobs.gcCandidates(cut);
      if (emptyCandidates(c)) break;
      const out = await this.o.propose({ type: "GarbageCollect", v: gcVersion(c), at: Date.now(), ...c });
      if (!out.result.ok) throw new Error(`${out.result.code}: ${out.result.message}`);
      const v = out.result.value as Partial<GcTotals>;
      for (const k of Object.keys(totals) as (keyof GcTotals)[]) totals[k] += v[k] ?? 0;
      // Nothing deleted though candidates were named: they changed in between; the next round sees them anew.
      if ((v.jobs ?? 0) + (v.evals ?? 0) + (v.allocs ?? 0) + (v.deployments ?? 0) + (v.nodes ?? 0) === 0) break;
    }
    // Tombstones, KV's, the catalog's, then variables': the round's remaining entries, one batch each (the applier takes the oldest first).
    if (cut.tombstones > 0) {
      const reaps = [
        { type: "ReapTombstones", left: (i: number) => this.o.state.kvTombstonesUpTo(i), total: "tombstones" },
        { type: "ReapCatalogTombstones", left: (i: number) => this.o.state.catalogTombstonesUpTo(i), total: "catalogTombstones" },
        { type: "ReapVariableTombstones", left: (i: number) => this.o.state.variableTombstonesUpTo(i), total: "variableTombstones" },
      ] as const;
      for (const r of reaps) {
        for (; i < MAX_ENTRIES_PER_ROUND && r.left(cut.tombstones) > 0; i++) {
          const out = await this.o.propose({ type: r.type, v: 1, at: Date.now(), before: cut.tombstones });
          if (!out.result.ok) throw new Error(`${out.result.code}: ${out.result.message}`);
          const n = (out.result.value as Record<string, number>)[r.total] ?? 0;
          totals[r.total] += n;
          if (n === 0) break;
        }
      }
    }
    if (Object.values(totals).some((n) => n > 0)) this.o.log.info("garbage collected", { ...totals, forced: force });
    return totals;
  }
}
