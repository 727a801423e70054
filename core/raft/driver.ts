// The Raft driver: the ONE loop that carries out what a RaftNode's Ready asks
// (docs/raft.md, "The Ready cycle"). Synchronous and clock-free: storage,
// transport and state machine are injected, time enters only as the
// caller's node.tick(). RaftReplicator (core/cluster/raft/replicator.ts)
// wraps it in timers and promises; the simulator (test/sim) and the unit
// test network (test/raft/network.ts) run the very same code with their own
// storage, transport and crash points.
//
// One Ready, in order:
//   crash point "before-send-early"
//   send the messages that may precede persisting (Ready.sendBeforePersist)
//   crash point "after-send-early"
//   one atomic unit of the storage: save snapshot/entries/hard state,
//     crash point "after-persist", restore the snapshot into the state
//     machine and apply the committed entries, crash point "after-apply"
//   the state machine publishes what it applied (watchers, proposers)
//   crash point "before-send"
//   send the rest of the messages (they may promise what was just persisted)
//   crash point "before-advance"
//   node.advance(ready)
//
// A leader's Ready of new entries may instead be written unsynced and made
// durable off the event loop (`deferredSync`): the Ready stays outstanding,
// its remaining messages and advance() wait, until either its own sync
// completed or its followers alone (a majority without it) acknowledged the
// entries — whichever comes first. Meanwhile the node steps acks and takes
// proposals; the next Ready waits. See "A leader's own fsync" in
// docs/raft.md for why that is safe and what it buys.
import type { RaftNode } from "./node.ts";
import type { RaftStorage } from "./storage.ts";
import type { CompactResult, Entry, Message, Ready, Snapshot } from "./types.ts";

/** Where the simulator may crash a node inside one Ready (see the order above). */
export const CRASH_POINTS = ["before-send-early", "after-send-early", "after-persist", "after-apply", "before-send", "before-advance"] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface DriverTransport {
  /** Hand messages to the network; never blocks, may drop (Raft resends what matters). */
  send(messages: Message[]): void;
}

/**
 * The application Raft orders commands for. restore/apply run inside the
 * storage's atomic unit, so state, applied index and log agree after a crash
 * when the storage and the state machine share a database (SQLite).
 */
export interface DriverStateMachine<R> {
  /** Replace the whole state with the snapshot's. */
  restore(snap: Snapshot): void;
  /**
   * Apply one committed entry (every type: "noop" and "conf" too, to keep
   * the applied index). undefined: already applied before a restart, skipped.
   */
  apply(entry: Entry): R | undefined;
  /** The atomic unit committed: publish what apply() returned, in order. */
  published(results: R[]): void;
  /** The atomic unit failed: forget what restore/apply did in it. */
  rolledBack(): void;
  /** The state as applied now, as a snapshot's data (for compaction). */
  snapshotData(): string;
}

/**
 * Makes durable, off the caller's thread, every write the storage committed
 * before start() was called; calls done once it is (with an error when it
 * could not be: the node must stop). The SQLite storage fdatasyncs its WAL
 * file on the thread pool.
 */
export interface DeferredSync {
  start(done: (err?: Error) => void): void;
}

export interface RaftDriverOptions<R> {
  node: RaftNode;
  storage: RaftStorage;
  transport: DriverTransport;
  stateMachine: DriverStateMachine<R>;
  /**
   * Called at each crash point; a simulator throws there to crash the node
   * (a throw inside the atomic unit rolls it back, as a real crash does).
   */
  crashPoint?: (at: CrashPoint) => void;
  /** Called inside each Ready's atomic unit after the save (SQLite: delete a slice of compacted entries). */
  housekeeping?: () => void;
  /**
   * Called at each stage of a Ready, for measuring (CORRAL_TRACE_COMMIT,
   * core/cluster/raft/commit-trace.ts); undefined in normal running.
   */
  trace?: (stage: "ready" | "sent-early" | "saved" | "applied" | "durable" | "done", rd: Ready) => void;
  /**
   * When set, a leader's Readies of new entries are committed unsynced and
   * made durable through this (see the top of this file); `wake` is then
   * called from the sync's completion, and the owner must call drain() (which
   * finishes the waiting Ready, or throws the sync's error). Unset: every
   * Ready is synced in place.
   */
  deferredSync?: { sync: DeferredSync; wake: () => void };
}

/** A leader's Ready written but not yet known durable on a majority. */
interface Waiting<R> {
  rd: Ready;
  applied: R[];
  /** Last new entry: durable on the followers' majority once they ack it in this term. */
  last: number;
  term: number;
  /** The sync started after the write: it covers it. */
  ticket: number;
  after?: (p: Processed<R>) => void;
}

/** What one processed Ready produced, for the shell: proposers to answer, reads to serve, role changes. */
export interface Processed<R> {
  ready: Ready;
  /** Results of the entries applied in this Ready (skipped ones absent), in order. */
  applied: R[];
}

export class RaftDriver<R> {
  readonly node: RaftNode;
  /** Term and vote as last persisted (which hard-state changes need an fsync). */
  private durableTerm = -1;
  private durableVote: string | null = null;
  /** Applied and snapshot index, tracked here: node.status() is too costly to call after every Ready. */
  private applied: number;
  private snapshotIndex: number;
  /** The leader's Ready awaiting durability (deferredSync), if any: no other Ready is taken meanwhile. */
  private waiting: Waiting<R> | undefined;
  /** Deferred syncs started, and the highest completed (tickets are numbered in start order). */
  private syncsStarted = 0;
  private syncedUpTo = 0;
  private syncError: Error | undefined;
  /** Deferred Readies finished by their own sync, and by the followers' acks before it (corral_raft_leader_writes_durable_total). */
  readonly deferredFinished = { sync: 0, followers: 0 };

  constructor(private readonly opts: RaftDriverOptions<R>) {
    this.node = opts.node;
    const st = opts.node.status();
    this.applied = st.appliedIndex;
    this.snapshotIndex = st.snapshotIndex;
  }

  /**
   * Process every Ready the node has, calling `after` for each. Anything
   * thrown (storage failure, a simulated crash) propagates: the node must
   * then stop, its Ready cannot be advanced.
   */
  drain(after?: (p: Processed<R>) => void, stop?: () => boolean): void {
    if (this.syncError) throw this.syncError;
    if (stop?.()) return;
    if (this.waiting && !this.finishIfDurable()) return;
    while (!stop?.() && this.node.hasReady()) {
      const rd = this.node.ready();
      if (this.defers(rd)) {
        this.writeDeferred(rd, after);
        return;
      }
      after?.(this.process(rd));
    }
  }

  /** One Ready, in the order at the top of this file. */
  process(rd: Ready): Processed<R> {
    return this.complete(rd, this.write(rd, this.needsSync(rd)));
  }

  /**
   * The first half of a Ready: the early sends, then one atomic unit (save,
   * restore, apply), fsynced when `durable`; then what it applied is
   * published. Anything thrown leaves the unit rolled back and propagates.
   */
  private write(rd: Ready, durable: boolean): R[] {
    const { storage, transport, stateMachine: sm } = this.opts;
    const crash = this.opts.crashPoint ?? noCrash;
    const trace = this.opts.trace;
    trace?.("ready", rd);
    const early = rd.sendBeforePersist;
    crash("before-send-early");
    // A leader's Appends go out before its own write (thesis §10.2.1): the
    // followers write their logs while we write ours.
    if (early > 0) {
      transport.send(rd.messages.slice(0, early));
      trace?.("sent-early", rd);
    }
    crash("after-send-early");
    const applied: R[] = [];
    // A Ready of messages alone (a leader's heartbeats, a follower's
    // heartbeat answers: most Readies of an idle cluster) writes nothing, so
    // it opens no transaction (an empty unit cost 28-58 µs when the loop had
    // slept between them, 5 µs back to back; several per heartbeat round).
    if (!rd.snapshot && !rd.hardState && rd.entries.length === 0 && rd.committedEntries.length === 0) return applied;
    try {
      storage.atomically(durable, () => {
        storage.save(rd);
        trace?.("saved", rd);
        this.opts.housekeeping?.();
        crash("after-persist");
        if (rd.snapshot) sm.restore(rd.snapshot);
        for (const e of rd.committedEntries) {
          const r = sm.apply(e);
          if (r !== undefined) applied.push(r);
        }
        trace?.("applied", rd);
        crash("after-apply");
      });
      if (durable) trace?.("durable", rd);
    } catch (err) {
      sm.rolledBack();
      throw err;
    }
    if (rd.hardState) [this.durableTerm, this.durableVote] = [rd.hardState.term, rd.hardState.vote];
    sm.published(applied);
    return applied;
  }

  /** The second half, once the Ready is durable: the remaining sends, then advance(). */
  private complete(rd: Ready, applied: R[]): Processed<R> {
    const crash = this.opts.crashPoint ?? noCrash;
    crash("before-send");
    const early = rd.sendBeforePersist;
    const rest = early > 0 ? rd.messages.slice(early) : rd.messages;
    if (rest.length > 0) this.opts.transport.send(rest);
    this.opts.trace?.("done", rd);
    crash("before-advance");
    this.node.advance(rd);
    if (rd.snapshot) this.applied = this.snapshotIndex = rd.snapshot.index;
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last && last.index > this.applied) this.applied = last.index;
    return { ready: rd, applied };
  }

  /**
   * Snapshot the state machine at the applied index and compact the log, once
   * `threshold` entries follow the last snapshot. Not durable by itself:
   * losing it in a crash leaves the previous snapshot and the whole log.
   */
  maybeCompact(threshold: number): CompactResult | undefined {
    const applied = this.applied;
    if (threshold <= 0 || applied - this.snapshotIndex < threshold) return undefined;
    const term = this.node.termAt(applied);
    if (term === undefined) return undefined;
    const { storage, stateMachine: sm } = this.opts;
    const r = storage.atomically(false, () => {
      const r = this.node.compact({ index: applied, term, data: sm.snapshotData() });
      if (r.ok) storage.compact(r.snapshot);
      return r;
    });
    if (r.ok) this.snapshotIndex = r.snapshot.index;
    return r;
  }

  /**
   * Which Readies may be made durable off the event loop: a leader's new
   * entries in its current term, nothing else that must be on disk before a
   * message leaves (no snapshot, term or vote; no voter change, kept simple),
   * and nothing applied in it that this very Ready writes (a single voter
   * commits on append: those entries wait for the next Ready, after the sync).
   */
  private defers(rd: Ready): boolean {
    if (!this.opts.deferredSync || rd.entries.length === 0 || rd.snapshot || rd.voters) return false;
    if (this.node.brief().role !== "leader") return false;
    const hs = rd.hardState;
    if (hs && (hs.term !== this.durableTerm || hs.vote !== this.durableVote)) return false;
    const first = rd.entries[0]!.index;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted && lastCommitted.index >= first) return false;
    for (const e of rd.entries) if (e.type === "conf") return false;
    return true;
  }

  /**
   * write() with the unit committed unsynced, then a sync started after it;
   * complete() and `after` wait for finishIfDurable(). What write() applies
   * here was committed before this Ready, so publishing it now promises
   * nothing this Ready writes.
   */
  private writeDeferred(rd: Ready, after?: (p: Processed<R>) => void): void {
    const applied = this.write(rd, false);
    const last = rd.entries[rd.entries.length - 1]!;
    const ticket = ++this.syncsStarted;
    this.waiting = { rd, applied, last: last.index, term: last.term, ticket, after };
    const { sync, wake } = this.opts.deferredSync!;
    sync.start((err) => {
      if (err) this.syncError ??= err;
      else if (ticket > this.syncedUpTo) this.syncedUpTo = ticket;
      wake();
    });
  }

  /** Finish the waiting Ready once its own sync completed or its followers alone hold it. */
  private finishIfDurable(): boolean {
    const w = this.waiting!;
    if (this.syncedUpTo >= w.ticket) this.deferredFinished.sync++;
    else if (this.node.durableOnFollowers(w.last, w.term)) this.deferredFinished.followers++;
    else return false;
    this.waiting = undefined;
    this.opts.trace?.("durable", w.rd);
    w.after?.(this.complete(w.rd, w.applied));
    return true;
  }

  /**
   * fsync only what Raft's safety rests on: new log entries, a snapshot, a
   * new term or vote. Applying committed entries (and a higher commit index)
   * need not be: after a crash Raft delivers again every committed entry
   * above the applied index persisted with the state.
   */
  private needsSync(rd: Ready): boolean {
    const hs = rd.hardState;
    const votedOrTermChanged = !!hs && (hs.term !== this.durableTerm || hs.vote !== this.durableVote);
    return rd.entries.length > 0 || !!rd.snapshot || votedOrTermChanged;
  }
}

function noCrash(): void {}
