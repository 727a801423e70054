// Raft's durable state in the node's SQLite database: the log (table `log`),
// the hard state (meta `raft_hard_state`) and the latest snapshot (table
// `raft_snapshot`). It implements core/raft's RaftStorage contract
// (core/raft/storage.ts; test/raft/storage-contract.ts checks it). The
// driver runs each Ready's save and the FSM's apply in one `atomically`
// transaction, so a crash leaves either all of it or none.
import { asc, eq, gt } from "drizzle-orm";
import { setMeta, type Store } from "../../store/db.ts";
import { walSync } from "../../store/wal-sync.ts";
import { log, meta, raftSnapshot } from "../../store/schema.ts";
import type { DeferredSync, Entry, EntryType, HardState, Persist, PersistedState, RaftStorage, Snapshot } from "../../raft/index.ts";

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

  constructor(
    private store: Store,
    private readonly opts: { leaderFsync?: "parallel" | "inline" } = {},
  ) {}

  load(): PersistedState | undefined {
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
    }
    // Entries and hard state come with every loaded Ready: plain SQL (see clientOf in store/db.ts).
    if (first !== undefined) {
      // Overwrite only what is there: a leader's append, and an in-sync follower's, starts past the last entry
      // (remembered, see knownLastIndex); a new snapshot deleted the whole log above.
      if (!newSnapshot && first <= this.lastIndex()) client.prepare("DELETE FROM log WHERE idx >= ?").run(first);
      const insert = client.prepare("INSERT INTO log (idx, term, kind, data) VALUES (?, ?, ?, ?)");
      for (const e of rd.entries) insert.run(e.index, e.term, e.type, e.data);
    }
    if (rd.hardState) setMeta(client, HARD_STATE_KEY, JSON.stringify(rd.hardState));
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
   * The leader's deferred sync (RaftDriver's deferredSync): the WAL's
   * fdatasync on the thread pool, so the event loop steps the followers'
   * acks meanwhile. Only with raft.sync = "full" on a database file (with
   * "normal" nothing is synced per write anyway), with raft.leader_fsync =
   * "parallel" (the default of the config; a storage built without options,
   * as tests and tools do, syncs in place).
   */
  deferredSync(): DeferredSync | undefined {
    if (this.opts.leaderFsync !== "parallel" || this.store.sync !== "full" || this.store.path === ":memory:") return undefined;
    const path = this.store.path;
    // One fdatasync in flight at a time: a start() meanwhile joins the next
    // one, begun when the current returns (so it covers that caller's writes).
    // A disk that stalls then costs one queued sync, not one per Ready that
    // its followers' acks finished meanwhile.
    let inFlight = false;
    let next: ((err?: Error) => void)[] = [];
    const run = () => {
      inFlight = true;
      const batch = next;
      next = [];
      this.fsyncs++;
      walSync(path, (err) => {
        inFlight = false;
        for (const done of batch) done(err);
        if (next.length > 0) run();
      });
    };
    return {
      start: (done) => {
        next.push(done);
        if (!inFlight) run();
      },
    };
  }

  /** One IMMEDIATE transaction; fsynced only when `durable` (with raft.sync = "full"). */
  atomically<T>(durable: boolean, fn: () => T): T {
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
