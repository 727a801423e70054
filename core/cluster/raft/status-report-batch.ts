// Several agents' status reports in one log entry.
//
// Every agent proposes its allocations' status changes as its own
// UpdateAllocStatus v1 entry. During a placement burst thousands of agents
// report within seconds, and each entry paid the same fixed costs on every
// replica: a log row, a savepoint and the applied index, which nodes' agents
// to wake, the loop's reactions, the job-status refresh of each job it
// touched (a count over all the job's allocations). The leader now gathers
// the v1 reports that reach it within one turn of the event loop and
// proposes them as one UpdateAllocStatus v2 entry (at most
// MAX_REPORTS_PER_ENTRY reports and MAX_UPDATES_PER_ENTRY updates); each
// proposer is answered with its own report's outcome, as a v1 entry of its
// own would have answered it (a report whose apply threw was rolled back
// alone, core/state/domains/alloc-status.ts, and its proposer gets the
// refusal its v1 entry would have got). A report alone in its turn is
// proposed as the v1 it is, so a quiet cluster writes what the previous
// release wrote.
//
// Batching adds no wait: the batch is proposed in the same turn the reports
// arrived (setImmediate), before or with the Ready that persists it.
import { MAX_REPORTS_PER_ENTRY, MAX_UPDATES_PER_ENTRY, type UpdateAllocStatus } from "../../state/domains/jobs-commands.ts";
import type { z } from "zod";
import type { ProposeOutcome } from "../../state/replicator.ts";
import type { ReportRefusal } from "../../state/domains/alloc-status.ts";

type Report = z.infer<typeof UpdateAllocStatus>;

interface Waiting {
  cmd: Report;
  resolve(out: ProposeOutcome): void;
  reject(err: unknown): void;
}

/** A v1 report an agent proposed (what the batcher takes; a v2 is proposed as it is). */
export function isAgentReport(cmd: { type: string; v: number }): cmd is Report {
  return cmd.type === "UpdateAllocStatus" && cmd.v === 1;
}

/** One v2 entry carrying the v1 reports in order, each with its own agent's timestamp. */
export function mergeReports(reports: readonly Report[]): Report {
  return {
    type: "UpdateAllocStatus", v: 2, at: Math.max(...reports.map((r) => r.at)),
    reports: reports.map((r) => ({ nodeId: r.nodeId!, at: r.at, updates: r.updates! })),
  };
}

/** Each report's answer from the v2 entry's outcome: its own { updated, ignored }, its own refusal, or the entry's refusal. */
export function splitOutcome(out: ProposeOutcome, n: number): ProposeOutcome[] {
  if (!out.result.ok) return Array.from({ length: n }, () => out);
  const per = (out.result.value as { reports?: unknown[] } | undefined)?.reports;
  if (!Array.isArray(per) || per.length !== n) throw new Error(`UpdateAllocStatus v2: ${per?.length ?? "no"} outcomes for ${n} reports`);
  return per.map((value) => {
    const refused = (value as Partial<ReportRefusal> | null)?.refused;
    return { index: out.index, result: refused ? { ok: false, code: refused.code, message: refused.message } : { ok: true, value } };
  });
}

export class StatusReportBatcher {
  private queue: Waiting[] = [];
  private updates = 0;
  private scheduled = false;
  /** Entries proposed and reports they carried (tests, and to see the batching). */
  entries = 0;
  reports = 0;

  /**
   * `propose`: the leader's own write of an already validated command (one entry).
   * `proposeAlone`: a report's ordinary path when the batch can't be proposed here (no longer the leader).
   */
  constructor(
    private o: {
      propose(cmd: Report): Promise<ProposeOutcome>;
      isLeader(): boolean;
      proposeAlone(cmd: Report): Promise<ProposeOutcome>;
      maxReports?: number;
      maxUpdates?: number;
    },
  ) {}

  add(cmd: Report): Promise<ProposeOutcome> {
    return new Promise((resolve, reject) => {
      const n = cmd.updates!.length;
      // What would overflow the entry goes into the next one.
      if (this.queue.length >= (this.o.maxReports ?? MAX_REPORTS_PER_ENTRY) || this.updates + n > (this.o.maxUpdates ?? MAX_UPDATES_PER_ENTRY)) this.flush();
      this.queue.push({ cmd, resolve, reject });
      this.updates += n;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.updates = 0;
    if (batch.length === 0) return;
    if (!this.o.isLeader()) {
      // Leadership moved since they arrived: each goes its usual way (forwarded to the new leader).
      for (const w of batch) this.o.proposeAlone(w.cmd).then(w.resolve, w.reject);
      return;
    }
    this.entries++;
    this.reports += batch.length;
    if (batch.length === 1) {
      const w = batch[0]!;
      this.o.propose(w.cmd).then(w.resolve, w.reject);
      return;
    }
    this.o.propose(mergeReports(batch.map((w) => w.cmd))).then(
      (out) => {
        let each: ProposeOutcome[];
        try {
          each = splitOutcome(out, batch.length);
        } catch (err) {
          for (const w of batch) w.reject(err);
          return;
        }
        batch.forEach((w, i) => w.resolve(each[i]!));
      },
      (err) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
