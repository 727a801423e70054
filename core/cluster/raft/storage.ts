// Raft's durable state in the node's SQLite database: the log (table `log`),
// the hard state (meta `raft_hard_state`) and the latest snapshot (table
// `raft_snapshot`). It implements core/raft's RaftStorage contract
// (core/raft/storage.ts; test/raft/storage-contract.ts checks it). The
// driver runs each Ready's save and the FSM's apply in one `atomically`
// transaction, so a crash leaves either all of it or none.
//
// With a journal (raft.sync = "full" on a real data dir) a durable unit is
// made durable by one record appended to the journal and synced, and its
// SQLite transaction commits without a sync; after a power loss the journal
// is replayed over SQLite before the log is loaded (log-journal.ts says why
// and how). Without one, a durable unit is a SQLite commit with a sync.
import { asc, eq, gt } from "drizzle-orm";
import { setMeta, type Store } from "../../store/db.ts";
import { log, meta, raftSnapshot } from "../../store/schema.ts";
import type { Entry, EntryType, HardState, Persist, PersistedState, RaftStorage, Snapshot } from "../../raft/index.ts";
import type { JournalRecord, LogJournal } from "./log-journal.ts";

const HARD_STATE_KEY = "raft_hard_state";
/** The journal's generation, written only in synced commits (log-journal.ts). */
const JOURNAL_GEN_KEY = "raft_journal_gen";

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

export class SqliteRaftStorage implements RaftStorage {
  /** Whether stored entries the snapshot covers may await trim(). */
  private trimPending = false;
  /**
   * snapshotIndex() and lastIndex() as stored, remembered between calls:
   * save() checks every Ready against them, and querying SQLite for them
   * (three statements per Ready) was a measurable part of a follower's CPU
   * per write. Written through by save/compact; forgotten (read again from
   * SQLite) when an atomically() unit fails, since its transaction rolled
   * back what they had been set to, and on load().
   */
  private knownSnapshotIndex: number | undefined;
  private knownLastIndex: number | undefined;

  /**
   * Units committed with an fsync (durable atomically() calls whose
   * transaction committed), for corral_raft_fsyncs_total: with raft.sync =
   * "full" each is one fsync of the database (WAL) file. Group commit shows
   * as fewer of these than writes.
   */
  fsyncs = 0;

  /** What the current atomically() unit wrote to the log, for the journal; undefined outside a unit. */
  private unit: { records: JournalRecord[]; snapshot: boolean } | undefined;
  private journalGen = 0;
  private recovered = false;

  constructor(
    private store: Store,
    private journal?: LogJournal,
  ) {}

  load(): PersistedState | undefined {
    this.recover();
    const db = this.store.db;
    const hs = db.select().from(meta).where(eq(meta.key, HARD_STATE_KEY)).get();
    this.forgetIndexes();
    if (!hs) return undefined;
    const hardState = JSON.parse(hs.value) as HardState;
    const snapshot = this.snapshot();
    // Entries a crash left below the snapshot are never read, only trimmed.
    this.trimPending = !!snapshot;
    const rows = db.select().from(log).where(gt(log.idx, snapshot?.index ?? 0)).orderBy(asc(log.idx)).all();
    const entries: Entry[] = rows.map((r) => ({ index: r.idx, term: r.term, type: entryType(r.kind), data: r.data }));
    return { hardState, snapshot, entries };
  }

  save(rd: Persist): void {
    const client = this.store.client;
    const snapIndex = this.snapshotIndex();
    const newSnapshot = rd.snapshot && rd.snapshot.index > snapIndex ? rd.snapshot : undefined;
    const first = rd.entries[0]?.index;
    if (first !== undefined) {
      // Checked before writing: the contract's driver-bug errors leave nothing behind.
      const base = newSnapshot ? newSnapshot.index : snapIndex;
      const last = newSnapshot ? base : this.lastIndex();
      if (first > last + 1) throw new Error(`storage: gap: appending ${first} after ${last}`);
      if (first <= base) throw new Error(`storage: entry ${first} is inside the snapshot (${base})`);
    }
    if (newSnapshot) {
      client.prepare("DELETE FROM log").run();
      this.saveSnapshot(newSnapshot);
      // Not journaled: the unit ends with a synced SQLite commit instead (atomically).
      if (this.unit) this.unit.snapshot = true;
    }
    // Entries and hard state come with every loaded Ready: plain SQL (see clientOf in store/db.ts).
    if (first !== undefined) {
      client.prepare("DELETE FROM log WHERE idx >= ?").run(first);
      const insert = client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
      for (const e of rd.entries) insert.run(e.index, e.term, e.type, e.data);
    }
    if (rd.hardState) setMeta(client, HARD_STATE_KEY, JSON.stringify(rd.hardState));
    if (this.unit && (first !== undefined || rd.hardState)) this.unit.records.push({ entries: rd.entries, ...(rd.hardState ? { hardState: rd.hardState } : {}) });
    if (newSnapshot) this.knownSnapshotIndex = this.knownLastIndex = newSnapshot.index;
    if (first !== undefined) this.knownLastIndex = rd.entries[rd.entries.length - 1]!.index;
  }

  /** Records a snapshot raft accepted; the log entries it covers go by trim(). */
  compact(s: Snapshot): void {
    if (s.index <= this.snapshotIndex()) return;
    this.saveSnapshot(s);
    this.trimPending = true;
    this.knownSnapshotIndex = s.index;
    if (this.knownLastIndex !== undefined && this.knownLastIndex < s.index) this.knownLastIndex = s.index;
  }

  /**
   * One IMMEDIATE transaction; durable when `durable` (with raft.sync =
   * "full"): by the journal's record and sync, written inside the
   * transaction just before it commits, or without a journal by the
   * commit's own fsync. A unit that installed a snapshot ends with a synced
   * commit and a fresh journal instead.
   */
  atomically<T>(durable: boolean, fn: () => T): T {
    const journal = this.journal;
    if (!journal) return this.plainUnit(durable, fn);
    this.store.fsyncCommits(false);
    const unit: { records: JournalRecord[]; snapshot: boolean } = { records: [], snapshot: false };
    this.unit = unit;
    try {
      const out = this.store.transaction(() => {
        const r = fn();
        if (!unit.snapshot) {
          for (const rec of unit.records) {
            // Entries go to the journal even from a unit that need not be
            // durable, so that a later durable unit's sync covers them, as
            // the contract says; a hard state alone (a commit index that
            // advanced) only when durable.
            if (durable || rec.entries.length > 0) journal.append(rec);
          }
          if (durable && unit.records.length > 0) {
            journal.sync();
            this.fsyncs++;
          }
        }
        return r;
      });
      if (unit.snapshot || journal.nearlyFull()) this.resetJournal();
      return out;
    } catch (err) {
      this.forgetIndexes();
      throw err;
    } finally {
      this.unit = undefined;
    }
  }

  private plainUnit<T>(durable: boolean, fn: () => T): T {
    this.store.fsyncCommits(durable);
    try {
      const out = this.store.transaction(fn);
      if (durable) this.fsyncs++;
      return out;
    } catch (err) {
      this.forgetIndexes();
      throw err;
    }
  }

  /**
   * Once, before the first load: brings SQLite's log up to the journal's
   * records (log-journal.ts). After a clean stop or a process crash SQLite
   * already holds them and nothing is written; after a power loss, what its
   * unsynced commits lost is written back.
   */
  private recover(): void {
    if (this.recovered || !this.journal) return;
    this.recovered = true;
    const client = this.store.client;
    const row = client.prepare("SELECT value FROM meta WHERE key = ?").get(JOURNAL_GEN_KEY) as { value: string } | undefined;
    this.journalGen = Number(row?.value ?? 0);
    const { from, tail, hardState } = foldJournal(this.journal.open(this.journalGen));
    this.store.transaction(() => {
      if (tail.length > 0) {
        const stored = client.prepare("SELECT idx, term FROM log WHERE idx >= ? AND idx < ? ORDER BY idx").all(from, from + tail.length) as { idx: number; term: number }[];
        let same = 0;
        while (same < tail.length && stored[same]?.idx === from + same && stored[same]!.term === tail[same]!.term) same++;
        if (same < tail.length) {
          // SQLite lost units: from the first entry it lacks (or holds in an
          // older version) on, the journal's log is the log, and whatever
          // followed there in SQLite was overwritten by the units it lost.
          client.prepare("DELETE FROM log WHERE idx >= ?").run(from + same);
          const insert = client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
          for (const e of tail.slice(same)) insert.run(e.index, e.term, e.type, e.data);
        }
      }
      if (hardState) {
        const now = client.prepare("SELECT value FROM meta WHERE key = ?").get(HARD_STATE_KEY) as { value: string } | undefined;
        const stored = now ? (JSON.parse(now.value) as HardState) : undefined;
        // Term and vote change only in journaled units; the commit index may
        // be newer in SQLite (units that only advanced it are not journaled).
        if (!stored || stored.term !== hardState.term || stored.vote !== hardState.vote || stored.commit < hardState.commit) {
          setMeta(client, HARD_STATE_KEY, JSON.stringify({ ...hardState, commit: Math.max(hardState.commit, stored?.commit ?? 0) }));
        }
      }
    });
    this.forgetIndexes();
  }

  /** One synced SQLite commit (every earlier commit is durable with it), then the journal starts over. */
  private resetJournal(): void {
    const gen = this.journalGen + 1;
    this.store.fsyncCommits(true);
    try {
      this.store.transaction(() => setMeta(this.store.client, JOURNAL_GEN_KEY, String(gen)));
    } finally {
      this.store.fsyncCommits(false);
    }
    this.fsyncs++;
    this.journal!.reset(gen);
    this.journalGen = gen;
  }

  /** The remembered indexes may be what a rolled-back transaction wrote: read them from SQLite next time. */
  private forgetIndexes(): void {
    this.knownSnapshotIndex = this.knownLastIndex = undefined;
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

  snapshotIndex(): number {
    if (this.knownSnapshotIndex === undefined) {
      const row = this.store.client.prepare("SELECT idx FROM raft_snapshot WHERE id = 1").get() as { idx: number } | undefined;
      this.knownSnapshotIndex = row?.idx ?? 0;
    }
    return this.knownSnapshotIndex;
  }

  lastIndex(): number {
    if (this.knownLastIndex === undefined) {
      const row = this.store.client.prepare("SELECT max(idx) AS hi FROM log").get() as { hi: number | null };
      this.knownLastIndex = Math.max(row.hi ?? 0, this.snapshotIndex());
    }
    return this.knownLastIndex;
  }

  snapshot(): Snapshot | undefined {
    const row = this.store.db.select().from(raftSnapshot).where(eq(raftSnapshot.id, 1)).get();
    return row ? { index: row.idx, term: row.term, voters: row.voters, data: row.data } : undefined;
  }

  term(index: number): number | undefined {
    const snap = this.store.client.prepare("SELECT idx, term FROM raft_snapshot WHERE id = 1").get() as { idx: number; term: number } | undefined;
    if (index === (snap?.idx ?? 0)) return snap?.term ?? 0;
    if (index < (snap?.idx ?? 0)) return undefined;
    const row = this.store.client.prepare("SELECT term FROM log WHERE idx = ?").get(index) as { term: number } | undefined;
    return row?.term;
  }

  entries(lo: number, hi: number): Entry[] {
    const from = Math.max(lo, this.snapshotIndex() + 1);
    const rows = this.store.client.prepare("SELECT idx, term, kind, data FROM log WHERE idx >= ? AND idx <= ? ORDER BY idx").all(from, hi) as {
      idx: number;
      term: number;
      kind: string;
      data: string;
    }[];
    return rows.map((r) => ({ index: r.idx, term: r.term, type: entryType(r.kind), data: r.data }));
  }

  private saveSnapshot(s: Snapshot): void {
    this.store.db.insert(raftSnapshot)
      .values({ id: 1, idx: s.index, term: s.term, voters: s.voters, data: s.data })
      .onConflictDoUpdate({ target: raftSnapshot.id, set: { idx: s.index, term: s.term, voters: s.voters, data: s.data } })
      .run();
  }
}

/**
 * The journal's records folded into what they say of the log: the entries
 * from the lowest first index any record has on (each record replaces the
 * log from its first entry on, as save does) and the last hard state.
 */
export function foldJournal(records: JournalRecord[]): { from: number; tail: Entry[]; hardState: HardState | undefined } {
  let from = 0;
  let tail: Entry[] = [];
  let hardState: HardState | undefined;
  for (const rec of records) {
    const first = rec.entries[0]?.index;
    if (first !== undefined) {
      if (tail.length === 0 || first <= from) {
        from = first;
        tail = rec.entries.slice();
      } else if (first <= from + tail.length) {
        tail = tail.slice(0, first - from).concat(rec.entries);
      } else {
        throw new Error(`raft journal: a record starts at ${first} after the journal's log ends at ${from + tail.length - 1}`);
      }
    }
    if (rec.hardState) hardState = rec.hardState;
  }
  return { from, tail, hardState };
}
