// Reports allocation status to the leader (UpdateAllocStatus), transitions
// only: the last state per allocation wins, identical states are not sent
// again, and changes close together share one command. A failed write is
// retried with backoff (the latest state of each allocation, not a queue of
// every step), so a leader election costs a delay, never a wrong status.
import type { Command, Logger, AppliedProposal, TaskState } from "../../core/sdk/index.ts";
import type { RunnerStatus } from "./alloc-runner.ts";

export interface AllocReport {
  allocId: string;
  clientStatus: RunnerStatus;
  description: string;
  taskStates: Record<string, TaskState>;
}

export interface ReporterDeps {
  nodeId: string;
  propose(cmd: Command): Promise<AppliedProposal>;
  now(): number;
  log: Logger;
  /** Batching window, ms. */
  debounceMs?: number;
  maxBackoffMs?: number;
}

/** UpdateAllocStatus takes at most this many updates per command. */
const MAX_BATCH = 1000;

export class StatusReporter {
  private pending = new Map<string, AllocReport>();
  private sent = new Map<string, string>();
  private timer?: ReturnType<typeof setTimeout>;
  private inFlight?: Promise<void>;
  private backoffMs = 0;
  private failures = 0;
  private stopped = false;

  constructor(private d: ReporterDeps) {}

  report(r: AllocReport): void {
    const key = JSON.stringify([r.clientStatus, r.description, r.taskStates]);
    if (this.sent.get(r.allocId) === key && !this.pending.has(r.allocId)) return;
    this.pending.set(r.allocId, r);
    this.schedule(this.d.debounceMs ?? 50);
  }

  /** Forget an allocation the leader no longer lists. */
  forget(allocId: string): void {
    this.sent.delete(allocId);
    this.pending.delete(allocId);
  }

  /** Sends what is pending now and waits for it (shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    if (this.pending.size) await this.send();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.inFlight) return this.schedule(ms);
      this.inFlight = this.send().finally(() => (this.inFlight = undefined));
    }, ms);
  }

  private async send(): Promise<void> {
    const batch = [...this.pending.values()].slice(0, MAX_BATCH);
    if (batch.length === 0) return;
    for (const r of batch) this.pending.delete(r.allocId);
    try {
      const out = await this.d.propose({
        type: "UpdateAllocStatus", v: 1, at: this.d.now(), nodeId: this.d.nodeId,
        updates: batch.map((r) => ({ allocId: r.allocId, clientStatus: r.clientStatus, description: r.description, taskStates: r.taskStates })),
      });
      if (!out.result.ok) throw new Error(`${out.result.code}: ${out.result.message}`);
      for (const r of batch) this.sent.set(r.allocId, JSON.stringify([r.clientStatus, r.description, r.taskStates]));
      if (this.failures) this.d.log.info("allocation status reports recovered", { after: this.failures });
      this.failures = 0;
      this.backoffMs = 0;
      if (this.pending.size) this.schedule(0);
    } catch (err) {
      // Keep the newest state of each allocation: a report made meanwhile wins.
      for (const r of batch) if (!this.pending.has(r.allocId)) this.pending.set(r.allocId, r);
      this.failures++;
      this.backoffMs = Math.min(this.d.maxBackoffMs ?? 10_000, Math.max(250, this.backoffMs * 2));
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.d.log.warn("allocation status report failed; retrying", { err: (err as Error)?.message ?? String(err), retryMs: this.backoffMs });
      }
      this.schedule(this.backoffMs);
    }
  }
}
