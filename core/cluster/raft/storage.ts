// Raft's durable state in the node's SQLite database: the log (table `log`),
// the hard state (meta `raft_hard_state`) and the latest snapshot (table
// `raft_snapshot`). Everything one Ready asks to persist is written in one
// transaction together with the entries it commits, so a crash leaves
// either all of it or none (core/raft's Ready contract, types.ts).
import { and, asc, eq, gt } from "drizzle-orm";
import { setMeta, type Store } from "../../store/db.ts";
import { log, meta, raftSnapshot } from "../../store/schema.ts";
import type { Entry, EntryType, HardState, PersistedState, Snapshot } from "../../raft/index.ts";
import { decodeDump, dumpState, encodeDump, restoreState } from "../../state/snapshot.ts";

const HARD_STATE_KEY = "raft_hard_state";

/** The log table predates Raft: single-leader entries were written as "cmd". */
function entryType(kind: string): EntryType {
  return kind === "noop" || kind === "conf" ? kind : "normal";
}

/**
 * Compacted entries deleted per Ready (see trim). Deleting a whole
 * snapshot_threshold of them in one transaction stalled a loaded node for
 * 10-30 ms, on every node at the same index, which set the write p99.
 */
export const TRIM_ROWS_PER_READY = 256;

export class RaftStorage {
  /** Whether stored entries the snapshot covers may await trim(). */
  private trimPending = false;

  constructor(private store: Store) {}

  /** What was persisted, or undefined for a node that never ran Raft. */
  load(): PersistedState | undefined {
    const db = this.store.db;
    const hs = db.select().from(meta).where(eq(meta.key, HARD_STATE_KEY)).get();
    if (!hs) return undefined;
    const hardState = JSON.parse(hs.value) as HardState;
    const snapRow = db.select().from(raftSnapshot).where(eq(raftSnapshot.id, 1)).get();
    const snapshot: Snapshot | undefined = snapRow
      ? { index: snapRow.idx, term: snapRow.term, voters: snapRow.voters, data: snapRow.data }
      : undefined;
    // Entries a crash left below the snapshot are never read, only trimmed.
    this.trimPending = !!snapshot;
    const rows = db.select().from(log).where(gt(log.idx, snapshot?.index ?? 0)).orderBy(asc(log.idx)).all();
    const entries: Entry[] = rows.map((r) => ({ index: r.idx, term: r.term, type: entryType(r.kind), data: r.data }));
    return { hardState, snapshot, entries };
  }

  /** Step 1 of a Ready: snapshot (replacing log and state), entries, hard state. Call inside a transaction. */
  persist(rd: { snapshot?: Snapshot; entries: Entry[]; hardState?: HardState }): void {
    const db = this.store.db;
    if (rd.snapshot) {
      const s = rd.snapshot;
      restoreState(this.store, decodeDump(s.data, this.store));
      db.delete(log).run();
      this.saveSnapshot(s);
      setMeta(this.store.client, "applied_index", String(s.index));
    }
    // Entries and hard state come with every loaded Ready: plain SQL (see clientOf in store/db.ts).
    const client = this.store.client;
    if (rd.entries.length > 0) {
      client.prepare("DELETE FROM log WHERE idx >= ?").run(rd.entries[0]!.index);
      const insert = client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
      for (const e of rd.entries) insert.run(e.index, e.term, e.type, e.data);
    }
    if (rd.hardState) {
      setMeta(client, HARD_STATE_KEY, JSON.stringify(rd.hardState));
    }
  }

  /** A consistent dump of the state as applied now (call inside a transaction). */
  dump(): string {
    return encodeDump(dumpState(this.store));
  }

  /** Records a snapshot raft accepted; the log entries it covers go by trim(). */
  compacted(s: Snapshot): void {
    this.saveSnapshot(s);
    this.trimPending = true;
  }

  /**
   * Deletes up to `rows` of the oldest entries the stored snapshot covers
   * (call inside a transaction). The rest wait for the next call: nothing
   * reads the log below the snapshot, and a crash leaves them to the next
   * load(). The bound is read from the stored snapshot, not remembered, so
   * a compaction whose transaction rolled back deletes nothing.
   */
  trim(rows: number): void {
    if (!this.trimPending) return;
    const deleted = this.store.client
      .prepare("DELETE FROM log WHERE idx <= (SELECT idx FROM raft_snapshot WHERE id = 1) AND idx < (SELECT min(idx) FROM log) + ?")
      .run(rows).changes;
    if (deleted < rows) this.trimPending = false;
  }

  termAt(index: number): number | undefined {
    return this.store.db.select({ term: log.term }).from(log).where(and(eq(log.idx, index))).get()?.term;
  }

  private saveSnapshot(s: Snapshot): void {
    this.store.db.insert(raftSnapshot)
      .values({ id: 1, idx: s.index, term: s.term, voters: s.voters, data: s.data })
      .onConflictDoUpdate({ target: raftSnapshot.id, set: { idx: s.index, term: s.term, voters: s.voters, data: s.data } })
      .run();
  }
}
