// The reference RaftStorage (storage.ts states the contract), kept in
// memory: unit tests' "disk" that survives RaftNode restarts. The SQLite
// storage (core/cluster/raft/storage.ts) passes the same contract suite.
import type { Persist, RaftStorage } from "./storage.ts";
import type { Entry, HardState, PersistedState, Snapshot } from "./types.ts";

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snap: Snapshot | undefined;
  /** Contiguous entries after the snapshot. */
  private ents: Entry[] = [];
  private written = false;

  /** True until a hard state was saved: a node with empty storage bootstraps (or joins) afresh. */
  isEmpty(): boolean {
    return !this.written;
  }

  save(rd: Persist): void {
    const first = rd.entries[0]?.index;
    const snapIndex = rd.snapshot && rd.snapshot.index > this.snapshotIndex() ? rd.snapshot.index : this.snapshotIndex();
    const last = rd.snapshot && rd.snapshot.index > this.snapshotIndex() ? snapIndex : this.lastIndex();
    // Check before writing anything: a refused save leaves the storage as it was.
    if (first !== undefined && first > last + 1) throw new Error(`storage: gap: appending ${first} after ${last}`);
    if (first !== undefined && first <= snapIndex) throw new Error(`storage: entry ${first} is inside the snapshot (${snapIndex})`);
    if (rd.hardState) this.written = true;
    if (rd.snapshot && rd.snapshot.index > this.snapshotIndex()) {
      this.snap = rd.snapshot;
      this.ents = [];
    }
    if (first !== undefined) {
      this.ents.length = first - this.snapshotIndex() - 1;
      this.ents.push(...rd.entries);
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
  }

  compact(snap: Snapshot): void {
    if (snap.index <= this.snapshotIndex()) return;
    this.ents = this.ents.filter((e) => e.index > snap.index);
    this.snap = snap;
  }

  /** Memory has no fsync and nothing to roll back: each save is all-or-nothing by itself. */
  atomically<T>(_durable: boolean, fn: () => T): T {
    return fn();
  }

  load(): PersistedState | undefined {
    if (!this.written) return undefined;
    const st: PersistedState = { hardState: { ...this.hardState }, entries: this.ents.slice() };
    if (this.snap) st.snapshot = this.snap;
    return st;
  }

  snapshotIndex(): number {
    return this.snap?.index ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.ents.length;
  }

  snapshot(): Snapshot | undefined {
    return this.snap;
  }

  term(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snap?.term ?? 0;
    if (index < this.snapshotIndex()) return undefined;
    return this.ents[index - this.snapshotIndex() - 1]?.term;
  }

  entries(lo: number, hi: number): Entry[] {
    const base = this.snapshotIndex() + 1;
    return this.ents.slice(Math.max(lo, base) - base, Math.max(hi + 1, base) - base);
  }
}
