// Linearizable reads without writing to the log (thesis §6.4, "ReadIndex"):
//  1. The read's index is the leader's commit index, but only once the leader
//     has committed an entry of its own term (before that its commit index
//     may lag what earlier leaders committed).
//  2. The leader proves it is still leader *after* the request arrived: a
//     heartbeat round sent after the read was registered must be answered
//     by a majority of voters (the leader counts if it is a voter).
//  3. The application serves the read once it has applied that index.
//
// Rounds are batched (etcd's linearizableReadLoop does the same one level
// up): at most one round is in flight for reads. A read that arrives while a
// round is out cannot use it (the round left before the read came) and joins
// the next one, which goes out as soon as the current one is answered by a
// quorum; so 64 concurrent readers cost about one heartbeat round per round
// trip instead of one broadcast each. Every heartbeat broadcast, the periodic
// one included, is a round with a new sequence number; a read needs a round
// that leaves the leader after the read arrived: the last round broadcast if
// its heartbeats still wait in the outbox (not yet handed to the driver in a
// Ready: they will hit the wire after this read came), else the next one.
// A lost round is covered by the next periodic heartbeat.
//
// Pending reads are dropped when leadership is lost; the caller times out
// and retries (it cannot know whether a new leader would see the same data).
import { hasQuorum } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { bcastHeartbeat } from "./replication.ts";
import type { ReadIndexResult } from "./types.ts";

interface PendingRead {
  ctx: string;
  /** The first round that may confirm this read: any round numbered at least this. */
  seq: number;
  /** undefined until the leader has committed an entry of its term. */
  index: number | undefined;
}

export class ReadQueue {
  /**
   * The number of the last heartbeat round sent (bcastHeartbeat calls
   * nextRound). Monotonic across terms so that an old round's answer never
   * confirms a newer read.
   */
  seq = 0;
  private pending: PendingRead[] = [];
  /** Highest round each follower has answered in this term. */
  private acks = new Map<string, number>();
  /** Round `seq`'s heartbeats are still in Raft's outbox (no Ready has taken them). */
  private roundUnsent = false;

  constructor(private readonly maxPending: number) {}

  reset(): void {
    this.pending = [];
    this.acks.clear();
    // A round of an earlier role may still sit in the outbox: no read of this one joins it.
    this.roundUnsent = false;
  }

  get size(): number {
    return this.pending.length;
  }

  /** A heartbeat broadcast is going out: its round number. */
  nextRound(): number {
    this.roundUnsent = true;
    return ++this.seq;
  }

  /** A Ready took the outbox: the last round is on its way, later reads need another. */
  outboxTaken(): void {
    this.roundUnsent = false;
  }

  request(r: Raft, ctx: string): ReadIndexResult {
    if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
    if (this.pending.length >= this.maxPending)
      return { ok: false, code: "BUSY", message: `${this.maxPending} reads already wait for confirmation (maxPendingReads)` };
    const index = r.log.term(r.log.committed) === r.term ? r.log.committed : undefined;
    this.pending.push({ ctx, seq: this.roundUnsent ? this.seq : this.seq + 1, index });
    this.release(r); // a single-voter cluster needs no round
    this.startRoundIfIdle(r);
    return { ok: true };
  }

  /** The commit index moved: reads waiting for the term's first commit get it now. */
  onCommit(r: Raft): void {
    if (this.pending.length === 0 || r.log.term(r.log.committed) !== r.term) return;
    for (const p of this.pending) if (p.index === undefined) p.index = r.log.committed;
    this.release(r);
    this.startRoundIfIdle(r);
  }

  onAck(r: Raft, from: string, seq: number): void {
    if (seq > (this.acks.get(from) ?? 0)) this.acks.set(from, seq);
    if (this.pending.length === 0) return;
    this.release(r);
    this.startRoundIfIdle(r);
  }

  /**
   * Sends a round for the waiting reads unless one that covers a waiting read
   * is still out (its answer will release that read and then call here).
   * Pending reads are in `seq` order, so the first one tells: its seq at most
   * the last round sent means a round for it is out.
   */
  private startRoundIfIdle(r: Raft): void {
    const first = this.pending[0];
    if (first && first.seq > this.seq) bcastHeartbeat(r);
  }

  /** Emit, in order, every read whose round a majority has answered and whose index is known. */
  private release(r: Raft): void {
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      if (p.index === undefined) return;
      const confirmed = hasQuorum(r.voters, (id) => id === r.id || (this.acks.get(id) ?? 0) >= p.seq);
      if (!confirmed) return;
      this.pending.shift();
      r.readStates.push({ ctx: p.ctx, index: p.index });
    }
  }
}
