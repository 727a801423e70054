// Raft's durable state in the node's SQLite database: the log (table `log`),
// the hard state (meta `raft_hard_state`) and the latest snapshot (table
// `raft_snapshot`). Everything one Ready asks to persist is written in one
// transaction together with the entries it commits, so a crash leaves
// either all of it or none (core/raft's Ready contract, types.ts).
import { and, asc, eq, gt, gte, lte, sql } from "drizzle-orm";
import type { Store } from "../../store/db.ts";
import { log, meta, raftSnapshot } from "../../store/schema.ts";
import type { Entry, EntryType, HardState, PersistedState, Snapshot } from "../../raft/index.ts";
import { decodeDump, dumpState, encodeDump, restoreState } from "../../state/snapshot.ts";

const HARD_STATE_KEY = "raft_hard_state";

/** The log table predates Raft: single-leader entries were written as "cmd". */
function entryType(kind: string): EntryType {
  return kind === "noop" || kind === "conf" ? kind : "normal";
}

export class RaftStorage {
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
      db.insert(meta).values({ key: "applied_index", value: String(s.index) })
        .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } }).run();
    }
    if (rd.entries.length > 0) {
      db.delete(log).where(gte(log.idx, rd.entries[0]!.index)).run();
      const insert = this.store.client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
      for (const e of rd.entries) insert.run(e.index, e.term, e.type, e.data);
    }
    if (rd.hardState) {
      db.insert(meta).values({ key: HARD_STATE_KEY, value: JSON.stringify(rd.hardState) })
        .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } }).run();
    }
  }

  /** A consistent dump of the state as applied now (call inside a transaction). */
  dump(): string {
    return encodeDump(dumpState(this.store));
  }

  /** Records a snapshot raft accepted and drops the log entries it covers. */
  compacted(s: Snapshot): void {
    this.saveSnapshot(s);
    this.store.db.delete(log).where(lte(log.idx, s.index)).run();
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
