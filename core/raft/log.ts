// The in-memory view of the replicated log: a snapshot (everything up to
// snapshot.index, compacted) followed by entries. It also tracks which part
// the driver has made durable (`persisted`), which part is committed, and
// which committed part has been handed to the application.
//
// Invariants (checked by assertInvariants in tests):
//   applied <= applying <= committed <= lastIndex, snapshot.index <= applying
//   entries[i].index === snapshot.index + 1 + i
//   persisted <= lastIndex
import type { Entry, Snapshot } from "./types.ts";

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({ index: 0, term: 0, voters: [], data: "" }) as Snapshot;

export class RaftLog {
  snapshot: Snapshot = EMPTY_SNAPSHOT;
  entries: Entry[] = [];
  committed = 0;
  /** Acknowledged by the application through advance(). */
  applied = 0;
  /** Handed out in a Ready (committedEntries or snapshot), maybe not yet acknowledged. */
  applying = 0;
  /** Every entry up to here is durable and unchanged since it was persisted. */
  persisted = 0;
  /** A snapshot received from the leader that the driver has not yet been given. */
  pendingSnapshot: Snapshot | undefined;

  firstIndex(): number {
    return this.snapshot.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** Term of the entry at `index`; undefined when compacted away (below the snapshot) or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    const e = this.entries[index - this.snapshot.index - 1];
    return e?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index) return undefined;
    return this.entries[index - this.snapshot.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Entries [lo, hi], both inclusive, clamped to what the log holds. */
  slice(lo: number, hi: number): Entry[] {
    const base = this.snapshot.index + 1;
    return this.entries.slice(Math.max(lo, base) - base, Math.max(hi + 1, base) - base);
  }

  // Terms never decrease along a log (each leader appends its own, higher
  // term after what it inherited), so the two searches below are binary.

  /** Largest index <= hi whose term is <= term; undefined when even the snapshot's term is higher. */
  lastIndexWithTermAtMost(hi: number, term: number): number | undefined {
    if (this.snapshot.term > term || hi < this.snapshot.index) return undefined;
    let lo = this.snapshot.index; // term(lo) <= term holds
    let top = Math.min(hi, this.lastIndex());
    while (lo < top) {
      const mid = Math.ceil((lo + top) / 2);
      if (this.term(mid)! <= term) lo = mid;
      else top = mid - 1;
    }
    return lo;
  }

  /** Smallest index in [firstIndex, hi] whose term is >= term (the start of term's run ending at hi). */
  firstIndexOfTerm(hi: number, term: number): number {
    let lo = this.firstIndex();
    let top = hi;
    if (top < lo) return top;
    while (lo < top) {
      const mid = Math.floor((lo + top) / 2);
      if (this.term(mid)! >= term) top = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * §5.4.1: a candidate's log is at least as up-to-date as ours when its last
   * term is higher, or equal with an index at least as large.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * First index in `ents` whose term differs from ours (or that we do not
   * have), 0 when we already hold all of them. A stale or duplicated Append
   * must never truncate entries we already agree on (Figure 2, receiver
   * rule 3 only removes entries that *conflict*).
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * Appends `ents` (contiguous), truncating any existing suffix from
   * ents[0].index. Returns true when something was truncated. Truncating a
   * committed entry would break State Machine Safety, so it throws.
   */
  append(ents: Entry[]): boolean {
    if (ents.length === 0) return false;
    const first = ents[0]!.index;
    if (first <= this.committed)
      throw new Error(`raft: attempt to overwrite committed index ${first} (committed ${this.committed})`);
    if (first > this.lastIndex() + 1)
      throw new Error(`raft: gap in log: appending ${first} after ${this.lastIndex()}`);
    const truncated = first <= this.lastIndex();
    if (truncated) this.entries.length = first - this.snapshot.index - 1;
    for (const e of ents) this.entries.push(e);
    this.persisted = Math.min(this.persisted, first - 1);
    return truncated;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) throw new Error(`raft: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Entries the driver still has to persist. */
  unstableEntries(): Entry[] {
    return this.slice(this.persisted + 1, this.lastIndex());
  }

  /** Committed entries not yet handed to the application, at most `max` of them. */
  nextCommitted(max: number): Entry[] {
    if (this.pendingSnapshot) return []; // the snapshot must be restored first
    return this.slice(this.applying + 1, Math.min(this.committed, this.applying + max));
  }

  hasNextCommitted(): boolean {
    return !this.pendingSnapshot && this.committed > this.applying;
  }

  /** The driver made entries up to `index` (with `term` there) durable. */
  stableTo(index: number, term: number): void {
    // If the entry changed since the Ready was cut, a newer Ready carries it.
    if (this.matchTerm(index, term) && index > this.persisted) this.persisted = index;
  }

  /** The application applied (or restored) up to `index`. */
  appliedTo(index: number): void {
    if (index > this.applied) this.applied = index;
  }

  /**
   * The application took a snapshot at `snap.index` (<= applied): drop the
   * entries it covers. They stay reachable for lagging followers only
   * through InstallSnapshot.
   */
  compact(snap: Snapshot): void {
    this.entries = this.entries.slice(snap.index - this.snapshot.index);
    this.snapshot = snap;
  }

  /**
   * Replace the whole log with a snapshot from the leader (§7). Entries after
   * it are discarded even if they match: keeping them is an optimisation we
   * skip, since the leader resends them.
   */
  restore(snap: Snapshot): void {
    this.snapshot = snap;
    this.entries = [];
    this.committed = snap.index;
    this.applying = snap.index;
    this.persisted = snap.index;
    this.pendingSnapshot = snap;
  }

  assertInvariants(): void {
    const s = this.snapshot.index;
    // applied may lag behind a received snapshot until the driver acks it.
    if (!(this.applied <= this.applying && s <= this.applying && this.applying <= this.committed))
      throw new Error(`raft log: bad order snapshot=${s} applied=${this.applied} applying=${this.applying} committed=${this.committed}`);
    if (this.committed > this.lastIndex()) throw new Error("raft log: committed beyond last index");
    this.entries.forEach((e, i) => {
      if (e.index !== s + 1 + i) throw new Error(`raft log: entry ${e.index} at position ${i} after snapshot ${s}`);
    });
  }
}
