// The leader's view of one follower (etcd's Progress). `match` is the highest
// index known replicated there; `next` the next index to send.
//
// States decide how aggressively the leader sends:
//   probe     - we do not know where the logs diverge: one Append at a time,
//               then wait for its answer (or the next heartbeat answer).
//   replicate - logs agree up to `match`: stream Appends optimistically,
//               at most maxInflightAppends unacknowledged (flow control).
//   snapshot  - the follower needs entries we compacted: one InstallSnapshot
//               is in flight; nothing else is sent until it is answered or
//               times out.
import type { ProgressState, ProgressStatus } from "./types.ts";

/**
 * A bounded FIFO of unacknowledged Appends: the last index each carried and
 * the tick it was sent at (to notice when acks stop coming).
 */
export class Inflights {
  private lasts: number[] = [];
  private ticks: number[] = [];
  constructor(readonly capacity: number) {}

  full(): boolean {
    return this.lasts.length >= this.capacity;
  }

  count(): number {
    return this.lasts.length;
  }

  add(lastIndex: number, tick: number): void {
    if (this.full()) throw new Error("raft: inflights overflow");
    this.lasts.push(lastIndex);
    this.ticks.push(tick);
  }

  /** An ack for `index` also acknowledges every earlier Append (they are cumulative). */
  freeLE(index: number): void {
    let i = 0;
    while (i < this.lasts.length && this.lasts[i]! <= index) i++;
    if (i > 0) {
      this.lasts.splice(0, i);
      this.ticks.splice(0, i);
    }
  }

  /** Tick at which the oldest unacknowledged Append was sent. */
  oldestSentTick(): number | undefined {
    return this.ticks[0];
  }

  reset(): void {
    this.lasts = [];
    this.ticks = [];
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe: an Append is outstanding, wait for its answer or the next heartbeat answer. */
  probeSent = false;
  /** Snapshot state: index of the snapshot in flight, and when it was sent (ticks). */
  pendingSnapshot = 0;
  snapshotSentTick = 0;
  /** Heard from this follower since the last check-quorum round (thesis §6.2). */
  recentActive = true;
  lastContactTick = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it; otherwise after what we know matches.
    this.next = this.state === "snapshot" ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1;
    this.state = "probe";
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number, tick: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = snapshotIndex;
    this.snapshotSentTick = tick;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** Whether the leader must hold further Appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** An Append carrying entries up to `lastIndex` (or none) was just sent at `tick`. */
  sentAppend(entryCount: number, lastIndex: number, tick: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1; // optimistic: assume it arrives
        this.inflights.add(lastIndex, tick);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /** A success ack for `index`. Returns false for a stale (already known) ack. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the Append with prevIndex `rejected`; `hintNext` is where
   * the conflict hint says to retry. Returns false when the rejection is
   * stale (it answers an Append older than what we already know); otherwise
   * we are in probe state, with `next` lowered, ready to send one Append.
   */
  maybeDecrTo(rejected: number, hintNext: number): boolean {
    if (this.state === "replicate") {
      // Anything at or below match is known to agree: the reject is stale.
      if (rejected <= this.match) return false;
      // An Append was lost, or overtaken by a later one: probe from the hint.
      this.becomeProbe();
    } else if (this.next - 1 !== rejected) {
      // In probe only the answer to the one outstanding Append counts.
      return false;
    }
    this.next = Math.max(this.match + 1, Math.min(rejected, hintNext), 1);
    this.probeSent = false;
    return true;
  }

  /**
   * In replicate state, whether the oldest unacknowledged Append has waited
   * `ticks` or more: its ack (or it) was probably lost, and with no new
   * traffic nothing else would reveal the gap.
   */
  stalled(now: number, ticks: number): boolean {
    const oldest = this.inflights.oldestSentTick();
    return this.state === "replicate" && oldest !== undefined && now - oldest >= ticks;
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      lastContactTick: this.lastContactTick,
      recentActive: this.recentActive,
    };
  }
}
