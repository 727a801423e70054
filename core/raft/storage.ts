// The contract between the Raft driver (driver.ts) and whatever keeps Raft's
// state across a crash. Two implementations: MemoryStorage (the reference,
// used by unit tests) and SqliteRaftStorage (core/cluster/raft/storage.ts,
// every real node and the simulator). One suite checks both against this
// contract: test/raft/storage-contract.ts.
import type { Entry, PersistedState, Ready, Snapshot } from "./types.ts";

/** What one Ready asks to persist (step 1 of the Ready cycle). */
export type Persist = Pick<Ready, "hardState" | "entries" | "snapshot">;

/**
 * Raft's durable state: hard state, log entries after the snapshot, snapshot.
 *
 * Durability: everything `save` and `compact` wrote inside `atomically(true,
 * fn)` is durable when `atomically` returns (an fsync where the medium has
 * one); with `false` it may be lost on power loss (never on a process
 * crash) until a later durable call, which then covers it too. Nothing
 * written inside `fn` is visible to `load` after a crash unless `atomically`
 * returned. If `fn` throws, `atomically` rethrows and the storage holds
 * either all or none of what `fn` wrote (SQLite: none; MemoryStorage: each
 * `save` is all-or-nothing by itself, and the simulator treats a throw as a
 * crash after the saves that returned).
 *
 * Errors: `save` throws on a Ready that would leave a gap in the log or
 * write inside the snapshot (a driver bug), and on I/O failure; after a throw
 * the driver must stop (the node waits for an advance that cannot come).
 * Reads (`load`, `term`, `entries`, ...) never throw for absent indexes:
 * they answer undefined or an empty list.
 */
export interface RaftStorage {
  /**
   * What to pass as RaftConfig.restore: the stored hard state, snapshot and
   * the contiguous entries after it. undefined until a hard state was saved
   * (a node bootstraps or joins afresh: nothing was sent before persisting).
   * Every node's first Ready carries one (bootstrap's commit, a joiner's
   * first term), and the SQLite log table predates Raft: rows without a hard
   * state are a pre-Raft log, not a Raft state.
   */
  load(): PersistedState | undefined;

  /**
   * Step 1 of a Ready, in this order: `snapshot` (if newer than the stored
   * one) replaces the snapshot and deletes every stored entry; `entries`
   * deletes stored entries from entries[0].index on (a new leader overwrote
   * them, §5.3) and appends; `hardState` replaces the stored one. Call inside
   * `atomically`.
   */
  save(rd: Persist): void;

  /**
   * The application compacted (RaftNode.compact returned `snap`): store it
   * as the snapshot. Entries up to snap.index may go now or later (the SQLite
   * storage deletes them a slice at a time); `load` never returns them. An
   * older or equal snapshot is ignored. Call inside `atomically`.
   */
  compact(snap: Snapshot): void;

  /** Runs fn as one unit of durability (see above); returns what fn returns. */
  atomically<T>(durable: boolean, fn: () => T): T;

  /** Index of the stored snapshot, 0 without one. */
  snapshotIndex(): number;

  /** Index of the last stored entry (the snapshot index when there are none after it). */
  lastIndex(): number;

  /** The stored snapshot, undefined without one. */
  snapshot(): Snapshot | undefined;

  /** Term of the entry at `index`: the snapshot's at its index, 0 at index 0, undefined when compacted or absent. */
  term(index: number): number | undefined;

  /** Stored entries [lo, hi], both inclusive, clamped to what is stored (entries after the snapshot only). */
  entries(lo: number, hi: number): Entry[];
}
