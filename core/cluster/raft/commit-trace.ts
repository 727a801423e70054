// A measuring tool, off unless CORRAL_TRACE_COMMIT names a directory: the
// time each step of one write's critical path takes on this node (docs/raft.md,
// "Where one commit's time goes"). Every step marks the monotonic clock
// (performance.now()) under the log index it concerns; once an index's last
// step is marked, its record is kept, and every 50 records this node writes
// the median gap between consecutive steps to <dir>/commit-trace-<pid>.json.
// Clocks are only ever compared within one process: the leader's record
// shows the followers' share as "sent to a follower → its ack stepped", a
// follower's record splits that share into its own steps.
//
// Built for the one-client case (bench/raft.ts --clients 1): the HTTP request
// a proposal came from is the last one received, which holds only while one
// write is in flight. When off, every hook is one `undefined` check.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Message, Ready } from "../../raft/index.ts";

/** A leader's steps for one write, in order. */
export const LEADER_STEPS = [
  "http-received", // the fast path took the request (before its body is read)
  "proposed", // node.propose() returned its index
  "append:ready", // the Ready carrying the entry was built
  "append:sent-early", // its Appends handed to the transport (before persisting)
  "append:saved", // written into the transaction (not yet committed)
  "append:durable", // the transaction committed: fsynced
  "append:done", // the rest sent, advance()d
  "ack-stepped", // the first follower ack covering the index stepped into raft
  "commit:ready", // the Ready carrying it as committed was built
  "commit:sent-early", // that Ready's commit notices (Appends) handed to the streams
  "commit:saved", // the commit index written into its transaction
  "commit:applied", // applied inside that Ready's transaction
  "commit:durable", // that transaction committed
  "settled", // the proposer's promise resolved
  "responded", // the HTTP answer built
] as const;

/** A follower's steps for one write, in order. */
export const FOLLOWER_STEPS = [
  "append-received", // the Append carrying the entry arrived (stream frame or request)
  "append:ready",
  "append:saved",
  "append:durable",
  "ack-sent", // its AppendResp handed to the transport
  "append:done",
  "commit-received", // an Append/Heartbeat whose commit covers the index arrived
  "commit:ready",
  "commit:saved",
  "commit:applied",
  "commit:durable",
  "commit:done",
] as const;

export type DriverStage = "ready" | "sent-early" | "saved" | "applied" | "durable" | "done";

const REPORT_EVERY = 50;
const KEEP = 2000;
/** The summary covers the last writes only: a bench preloads keys with many clients first. */
const KEEP_DONE = 200;

export class CommitTrace {
  private open = new Map<number, Record<string, number>>();
  private done: Record<string, number>[] = [];
  private lastReceived: number | undefined;
  private sinceReport = 0;

  constructor(private readonly file: string) {}

  /** An HTTP write arrived (one client: the next proposal is its). */
  httpReceived(): void {
    this.lastReceived = performance.now();
  }

  proposed(index: number): void {
    const now = performance.now();
    const r = this.record(index);
    r["http-received"] ??= this.lastReceived ?? now;
    r["proposed"] ??= now;
    this.lastReceived = undefined;
  }

  /** Messages stepped into raft on this node. */
  stepped(messages: Message[]): void {
    const now = performance.now();
    for (const m of messages) {
      if (m.type === "Append") {
        for (const e of m.entries) this.mark(e.index, "append-received", now);
        this.markCommit(m.commit, now);
      } else if (m.type === "Heartbeat") this.markCommit(m.commit, now);
      else if (m.type === "AppendResp" && !m.reject) {
        for (const [i, r] of this.open) if (i <= m.index && r["proposed"] !== undefined) r["ack-stepped"] ??= now;
      }
    }
  }

  /** A driver stage of one Ready (see RaftDriverOptions.trace). */
  stage(stage: DriverStage, rd: Ready): void {
    const now = performance.now();
    if (stage !== "applied") for (const e of rd.entries) this.mark(e.index, `append:${stage}`, now);
    for (const e of rd.committedEntries) this.mark(e.index, `commit:${stage}`, now);
    if (stage === "done") {
      // A follower's ack goes with the rest of the messages, right before advance.
      for (const m of rd.messages) {
        if (m.type === "AppendResp" && !m.reject) for (const [i, r] of this.open) if (i <= m.index && r["append-received"] !== undefined) r["ack-sent"] ??= now;
      }
    }
    if (stage === "done") for (const e of rd.committedEntries) this.finishFollower(e.index);
  }

  settled(index: number): void {
    this.mark(index, "settled", performance.now());
  }

  responded(index: number): void {
    const r = this.open.get(index);
    if (!r) return;
    r["responded"] = performance.now();
    this.finish(index, r);
  }

  private markCommit(commit: number, now: number): void {
    for (const [i, r] of this.open) if (i <= commit && r["append-received"] !== undefined) r["commit-received"] ??= now;
  }

  private finishFollower(index: number): void {
    const r = this.open.get(index);
    if (r && r["proposed"] === undefined && r["append-received"] !== undefined) this.finish(index, r);
  }

  private mark(index: number, step: string, now: number): void {
    const r = this.open.get(index);
    if (r) r[step] ??= now;
    else if (step === "append-received") this.record(index)[step] = now;
  }

  private record(index: number): Record<string, number> {
    let r = this.open.get(index);
    if (!r) {
      r = {};
      this.open.set(index, r);
      // Indexes that never finish (not ours, a lost leadership) must not pile up.
      if (this.open.size > KEEP) this.open.delete(this.open.keys().next().value!);
    }
    return r;
  }

  private finish(index: number, r: Record<string, number>): void {
    this.open.delete(index);
    this.done.push(r);
    if (this.done.length > KEEP_DONE) this.done.shift();
    if (++this.sinceReport >= REPORT_EVERY) {
      this.sinceReport = 0;
      this.report();
    }
  }

  /** Median µs between consecutive steps, per role, over the kept records. */
  summary(): Record<string, unknown> {
    const out: Record<string, unknown> = { pid: process.pid };
    for (const [role, steps] of [["leader", LEADER_STEPS], ["follower", FOLLOWER_STEPS]] as const) {
      const recs = this.done.filter((r) => r[steps[0]] !== undefined && r[steps[steps.length - 1]] !== undefined);
      if (recs.length === 0) continue;
      const gaps: Record<string, number> = {};
      for (let k = 1; k < steps.length; k++) {
        const xs = recs.map((r) => gap(r, steps, k)).filter((x): x is number => x !== undefined);
        if (xs.length > 0) gaps[`${steps[k]}`] = Math.round(median(xs) * 1000);
      }
      const totals = recs.map((r) => r[steps[steps.length - 1]]! - r[steps[0]]!);
      const sorted = [...totals].sort((a, b) => a - b);
      const q = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 1000);
      out[role] = {
        writes: recs.length,
        span_s: Math.round(recs[recs.length - 1]![steps[0]]! - recs[0]![steps[0]]!) / 1000,
        total_us: { p10: q(0.1), p50: q(0.5), p90: q(0.9) },
        step_us_median: gaps,
      };
    }
    return out;
  }

  private report(): void {
    try {
      writeFileSync(this.file, JSON.stringify(this.summary(), null, 1));
    } catch {
      // a measuring aid: never a reason to fail a write
    }
  }
}

/** The gap from the nearest earlier step marked to step k (a step may be missing, e.g. nothing sent early). */
function gap(r: Record<string, number>, steps: readonly string[], k: number): number | undefined {
  const t = r[steps[k]!];
  if (t === undefined) return undefined;
  for (let j = k - 1; j >= 0; j--) {
    const s = r[steps[j]!];
    if (s !== undefined) return t - s;
  }
  return undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const dir = process.env.CORRAL_TRACE_COMMIT;
/** The process's trace, or undefined (the usual case: every hook is skipped). */
export const commitTrace: CommitTrace | undefined = dir ? new CommitTrace(join(dir, `commit-trace-${process.pid}.json`)) : undefined;
