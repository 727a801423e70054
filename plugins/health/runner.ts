// Runs this node's checks: the set comes from the discovery plugin
// (LOCAL_CHECKS_TOPIC events), the times from one DueQueue and one timer,
// the probes through a bound on how many are in flight, and what the
// thresholds say goes back to discovery (`report`), which writes status
// changes to the log. Clock, random, timer and probes are injected, so
// tests drive it with a fake clock.
import type { LocalCheckInfo, LocalChecksEvent } from "../discovery/topics.ts";
import { runSpec, sameSpec, type RunSpec } from "./definition.ts";
import { firstRunAt, nextRunAt, DueQueue } from "./scheduler.ts";
import { CheckState, type Report } from "./thresholds.ts";
import type { ProbeResult } from "../../core/sdk/index.ts";

export interface RunnerDeps {
  now(): number;
  random(): number;
  /** One-shot timer (ctx.after). */
  setTimer(ms: number, fn: () => void): { cancel(): void };
  probe(spec: RunSpec): Promise<ProbeResult>;
  report(checkId: string, r: Report): void;
  /** A probe started `lagMs` after it was due (metrics). */
  started?(lagMs: number): void;
  maxConcurrent: number;
  minIntervalMs: number;
  outputIntervalMs: number;
}

/** Entries due within this window are started by the same wake-up. */
export const BATCH_WINDOW_MS = 10;

interface Entry {
  spec: RunSpec;
  state: CheckState;
  /** Scheduled time of the current or next run. */
  due: number;
  /** Bumped on redefinition: a probe of an older definition reports nothing. */
  gen: number;
  running: boolean;
}

export interface RunnerStats {
  checks: number;
  inFlight: number;
  waiting: number;
  probes: number;
  reports: number;
  /** Sum of (start - due) over probes, ms: how far behind the runner is. */
  lagMs: number;
}

export class HealthRunner {
  private entries = new Map<string, Entry>();
  private queue = new DueQueue();
  /** Due checks waiting for a free probe slot, FIFO (`head` is the next one). */
  private waiting: string[] = [];
  private head = 0;
  private timer?: { cancel(): void };
  private timerAt = Infinity;
  private stopped = false;
  readonly stats: RunnerStats = { checks: 0, inFlight: 0, waiting: 0, probes: 0, reports: 0, lagMs: 0 };

  constructor(private d: RunnerDeps) {}

  apply(ev: LocalChecksEvent): void {
    if (ev.op === "put") this.put(ev.check);
    else if (ev.op === "remove") this.remove(ev.id);
    else {
      const keep = new Set(ev.checks.map((c) => c.id));
      for (const id of [...this.entries.keys()]) if (!keep.has(id)) this.remove(id);
      for (const c of ev.checks) this.put(c);
    }
  }

  /** Adds or redefines a check; an unchanged definition keeps its schedule and counters. */
  put(info: LocalCheckInfo): void {
    const spec = runSpec(info, this.d.minIntervalMs);
    const old = this.entries.get(info.id);
    if (old && sameSpec(old.spec, spec)) {
      old.state.reported = info.status;
      return;
    }
    const due = firstRunAt(this.d.now(), spec.intervalMs, this.d.random);
    const entry: Entry = { spec, state: new CheckState(spec.thresholds, info.status, this.d.outputIntervalMs), due, gen: (old?.gen ?? 0) + 1, running: false };
    this.entries.set(info.id, entry);
    this.queue.schedule(info.id, due);
    this.stats.checks = this.entries.size;
    this.arm();
  }

  remove(id: string): void {
    if (!this.entries.delete(id)) return;
    this.queue.cancel(id);
    this.stats.checks = this.entries.size;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.clear();
    this.entries.clear();
    this.waiting = [];
    this.head = 0;
  }

  /** Check IDs known (tests). */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Keeps the one timer set for the earliest due check. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.queue.next();
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Infinity;
    if (next === undefined) return;
    this.timerAt = next;
    this.timer = this.d.setTimer(Math.max(0, next - this.d.now()), () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.fire();
    });
  }

  private fire(): void {
    for (const id of this.queue.popDue(this.d.now() + BATCH_WINDOW_MS)) {
      if (this.stats.inFlight < this.d.maxConcurrent) this.start(id);
      else this.waiting.push(id);
    }
    this.stats.waiting = this.waiting.length - this.head;
    this.arm();
  }

  private start(id: string): void {
    const e = this.entries.get(id);
    if (!e || e.running) return;
    e.running = true;
    const gen = e.gen;
    this.stats.inFlight++;
    this.stats.probes++;
    const lag = Math.max(0, this.d.now() - e.due);
    this.stats.lagMs += lag;
    this.d.started?.(lag);
    this.d.probe(e.spec).then(
      (r) => this.finish(id, gen, r),
      (err) => this.finish(id, gen, { status: "critical", output: `check failed to run: ${(err as Error)?.message ?? String(err)}` }),
    );
  }

  private finish(id: string, gen: number, r: ProbeResult): void {
    this.stats.inFlight--;
    if (this.stopped) return;
    const e = this.entries.get(id);
    if (e && e.gen === gen) {
      e.running = false;
      const out = e.state.observe(r, this.d.now());
      if (out) {
        this.stats.reports++;
        this.d.report(id, out);
      }
      e.due = nextRunAt(e.due, this.d.now(), e.spec.intervalMs);
      this.queue.schedule(id, e.due);
    }
    // Otherwise removed, or redefined while this probe ran (the new definition has its own schedule).
    this.startWaiting();
    this.arm();
  }

  private startWaiting(): void {
    while (this.head < this.waiting.length && this.stats.inFlight < this.d.maxConcurrent) {
      const id = this.waiting[this.head++]!;
      if (this.entries.has(id)) this.start(id);
    }
    if (this.head === this.waiting.length || this.head > 1024) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    this.stats.waiting = this.waiting.length;
  }
}
