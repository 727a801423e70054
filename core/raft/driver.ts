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
    while (!stop?.() && this.node.hasReady()) {
      const p = this.process(this.node.ready());
      after?.(p);
    }
  }

  /** One Ready, in the order at the top of this file. */
  process(rd: Ready): Processed<R> {
    const { storage, transport, stateMachine: sm } = this.opts;
    const crash = this.opts.crashPoint ?? noCrash;
    const trace = this.opts.trace;
    trace?.("ready", rd);
    const early = rd.sendBeforePersist;
    crash("before-send-early");
    // A leader's Appends go out before its own write (thesis §10.2.1): the
    // followers write their logs while we write ours. Their acks are stepped
    // only after this synchronous persist returns.
    if (early > 0) {
      transport.send(rd.messages.slice(0, early));
      trace?.("sent-early", rd);
    }
    crash("after-send-early");
    const applied: R[] = [];
    try {
      storage.atomically(this.needsSync(rd), () => {
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
      trace?.("durable", rd);
    } catch (err) {
      sm.rolledBack();
      throw err;
    }
    if (rd.hardState) [this.durableTerm, this.durableVote] = [rd.hardState.term, rd.hardState.vote];
    sm.published(applied);
    crash("before-send");
    const rest = early > 0 ? rd.messages.slice(early) : rd.messages;
    if (rest.length > 0) transport.send(rest);
    trace?.("done", rd);
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
