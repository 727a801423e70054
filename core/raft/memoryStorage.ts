// A reference implementation of what a driver must persist, kept in memory.
// The simulator uses it as the "disk" that survives a crash; the SQLite
// driver should behave the same way (the contract is written on each method).
import type { Entry, HardState, PersistedState, Ready, Snapshot } from "./types.ts";

export class MemoryStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snapshot: Snapshot | undefined;
  /** Contiguous entries after the snapshot. */
  private entries: Entry[] = [];
  private written = false;

  /** True until the first save: a node with empty storage bootstraps (or joins) afresh. */
  isEmpty(): boolean {
    return !this.written;
  }

  /**
   * Persist one Ready, atomically, before its messages are sent:
   *  - snapshot: replaces the snapshot and discards every stored entry;
   *  - entries: deletes stored entries from entries[0].index on (they were
   *    overwritten by a new leader, §5.3), then appends;
   *  - hardState: replaces the stored one.
   */
  save(rd: Pick<Ready, "hardState" | "entries" | "snapshot">): void {
    this.written = true;
    if (rd.snapshot && rd.snapshot.index > this.snapshotIndex()) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (first > this.lastIndex() + 1) throw new Error(`storage: gap: appending ${first} after ${this.lastIndex()}`);
      if (first <= this.snapshotIndex()) throw new Error(`storage: entry ${first} is inside the snapshot`);
      this.entries.length = first - this.snapshotIndex() - 1;
      this.entries.push(...rd.entries);
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
  }

  /** The application compacted (RaftNode.compact returned `snap`): keep it, drop entries it covers. */
  compact(snap: Snapshot): void {
    if (snap.index <= this.snapshotIndex()) return;
    this.entries = this.entries.filter((e) => e.index > snap.index);
    this.snapshot = snap;
  }

  /** What to pass as `restore` when the node restarts; undefined if nothing was ever saved. */
  load(): PersistedState | undefined {
    if (!this.written) return undefined;
    const st: PersistedState = { hardState: { ...this.hardState }, entries: this.entries.slice() };
    if (this.snapshot) st.snapshot = this.snapshot;
    return st;
  }

  snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  getSnapshot(): Snapshot | undefined {
    return this.snapshot;
  }

  /** Term at `index`, undefined when compacted or absent. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snapshot?.term ?? 0;
    return this.entries[index - this.snapshotIndex() - 1]?.term;
  }

  /** Entries [lo, hi] inclusive, clamped to what is stored. */
  slice(lo: number, hi: number): Entry[] {
    const base = this.snapshotIndex() + 1;
    return this.entries.slice(Math.max(lo, base) - base, Math.max(hi + 1, base) - base);
  }
}
