// Linearizable reads without writing to the log (thesis §6.4, "ReadIndex"):
//  1. The read's index is the leader's commit index, but only once the leader
//     has committed an entry of its own term (before that its commit index
//     may lag what earlier leaders committed).
//  2. The leader proves it is still leader *after* the request arrived: a
//     heartbeat round carrying the read's sequence number must be answered
//     by a majority of voters (the leader counts if it is a voter).
//  3. The application serves the read once it has applied that index.
// Requests are batched: one answered round confirms every read registered
// before it was sent. Pending reads are dropped when leadership is lost;
// the caller times out and retries (it cannot know whether a new leader
// would see the same data).
import { hasQuorum } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { bcastHeartbeat } from "./replication.ts";
import type { ReadIndexResult } from "./types.ts";

interface PendingRead {
  ctx: string;
  seq: number;
  /** undefined until the leader has committed an entry of its term. */
  index: number | undefined;
}

export class ReadQueue {
  /** Monotonic across terms so that an old round's answer never confirms a newer read. */
  seq = 0;
  private pending: PendingRead[] = [];
  /** Highest round each follower has answered in this term. */
  private acks = new Map<string, number>();

  constructor(private readonly maxPending: number) {}

  reset(): void {
    this.pending = [];
    this.acks.clear();
  }

  get size(): number {
    return this.pending.length;
  }

  request(r: Raft, ctx: string): ReadIndexResult {
    if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
    if (this.pending.length >= this.maxPending)
      return { ok: false, code: "BUSY", message: `${this.maxPending} reads already wait for confirmation (maxPendingReads)` };
    const index = r.log.term(r.log.committed) === r.term ? r.log.committed : undefined;
    this.pending.push({ ctx, seq: ++this.seq, index });
    this.release(r); // a single-voter cluster needs no round
    if (this.pending.length > 0) bcastHeartbeat(r);
    return { ok: true };
  }

  /** The commit index moved: reads waiting for the term's first commit get it now. */
  onCommit(r: Raft): void {
    if (this.pending.length === 0 || r.log.term(r.log.committed) !== r.term) return;
    for (const p of this.pending) if (p.index === undefined) p.index = r.log.committed;
    this.release(r);
  }

  onAck(r: Raft, from: string, seq: number): void {
    if (this.pending.length === 0) return;
    if (seq > (this.acks.get(from) ?? 0)) this.acks.set(from, seq);
    this.release(r);
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
