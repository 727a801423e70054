// RaftNode: the synchronous API a driver uses (etcd's RawNode). It owns no
// timers, sockets or files. The driver calls tick() on a timer, step() for
// each received message, propose()/readIndex()/... for clients; each of
// these is one input through one private step (a single trace point). The
// work they produce is drained by the Ready loop, which is driver.ts's
// RaftDriver.process: send what may go early, persist, apply, send the
// rest, advance.
//
// Exactly one Ready may be outstanding: ready() throws until advance() is
// called with it. tick/step/propose may be called in between; what they
// produce goes into the next Ready.
import type { RaftConfig } from "./config.ts";
import { applyChange, encodeConf } from "./membership.ts";
import { Raft } from "./raft.ts";
import { appendEntries, sendAppend, sendTimeoutNow } from "./replication.ts";
import { hup } from "./election.ts";
import { quorumMatchIndex } from "./quorum.ts";
import { MESSAGE_TYPES } from "./types.ts";
import type {
  BriefStatus,
  CompactResult,
  ConfChange,
  ConfChangeResult,
  HardState,
  Message,
  ProgressStatus,
  ProposeResult,
  RaftInput,
  ReadIndexResult,
  Ready,
  SoftState,
  Status,
  TransferResult,
} from "./types.ts";

/**
 * Moves to the front of `msgs` (keeping their order) the messages that may be
 * sent before the Ready is persisted (see Ready.sendBeforePersist) and returns
 * how many there are: Appends and Heartbeats (only a leader sends them) whose
 * commit index is durable here. The commit check matters when the leader is
 * its own majority (a removed follower still gets Appends): it commits what
 * it has not persisted yet, and must not tell anyone before it has.
 */
function frontEarly(msgs: Message[], persisted: number): number {
  const early = (m: Message) => (m.type === "Append" || m.type === "Heartbeat") && m.commit <= persisted;
  const front = msgs.filter(early);
  if (front.length > 0 && front.length < msgs.length) {
    const rest = msgs.filter((m) => !early(m));
    msgs.splice(0, msgs.length, ...front, ...rest);
  }
  return front.length;
}

const REMOTE_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

const sameHard = (a: HardState, b: HardState) => a.term === b.term && a.vote === b.vote && a.commit === b.commit;
const sameSoft = (a: SoftState, b: SoftState) => a.leader === b.leader && a.role === b.role;

export class RaftNode {
  private readonly r: Raft;
  private prevHard: HardState;
  private prevSoft: SoftState;
  /** votersVersion last reported in a Ready; -1 so the first Ready always reports the voters. */
  private reportedVoters = -1;
  private outstanding: Ready | undefined;

  constructor(config: RaftConfig) {
    this.r = new Raft(config);
    this.prevHard = config.restore ? { ...config.restore.hardState } : { term: 0, vote: null, commit: 0 };
    this.prevSoft = { leader: undefined, role: "follower" };
  }

  get id(): string {
    return this.r.id;
  }

  /** Advance logical time by one tick (elections, heartbeats, check-quorum). */
  tick(): void {
    this.input({ type: "Tick" });
  }

  /**
   * Feed one message received from a peer. Malformed or misaddressed
   * messages are ignored, and so is anything that is not a peer's message
   * type (a local operation cannot come from the network).
   */
  step(m: Message): void {
    if (!m || typeof m !== "object" || !REMOTE_TYPES.has(m.type) || typeof m.term !== "number") return;
    this.input(m);
  }

  /** Start an election now instead of waiting for the timeout (tests, operator action). */
  campaign(): void {
    this.input({ type: "Campaign" });
  }

  /** Append `data` to the log (leader only); see stepPropose. */
  propose(data: string): ProposeResult {
    return this.input({ type: "Propose", data }) as ProposeResult;
  }

  /** Add or remove one voter (thesis §4.1); see stepConfChange. */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    return this.input({ type: "ProposeConfChange", change }) as ConfChangeResult;
  }

  /** Hand leadership to `to` (thesis §3.10); see stepTransfer. */
  transferLeadership(to: string): TransferResult {
    return this.input({ type: "TransferLeadership", to }) as TransferResult;
  }

  /**
   * Linearizable read (thesis §6.4). On the leader, a ReadState {ctx, index}
   * appears in a later Ready once leadership is confirmed; serve the read
   * when the application has applied `index`. Followers answer NOT_LEADER
   * (with the leader if known): the driver forwards the read there.
   */
  readIndex(ctx: string): ReadIndexResult {
    return this.input({ type: "ReadIndex", ctx }) as ReadIndexResult;
  }

  /** The application snapshotted at `index` (applied): drop the entries it covers; see stepCompact. */
  compact(snap: { index: number; term: number; data: string }): CompactResult {
    return this.input({ type: "Compact", snapshot: snap }) as CompactResult;
  }

  /**
   * The one step every input takes, peers' messages and local operations
   * alike: one place to trace (RaftConfig.trace), as etcd's MsgHup/MsgProp/
   * MsgBeat go through its Step.
   */
  private input(i: RaftInput): unknown {
    this.r.cfg.trace?.(i, this.r.id);
    switch (i.type) {
      case "Tick":
        return this.r.tick();
      case "Campaign":
        return hup(this.r, false);
      case "Propose":
        return this.stepPropose(i.data);
      case "ProposeConfChange":
        return this.stepConfChange(i.change);
      case "TransferLeadership":
        return this.stepTransfer(i.to);
      case "ReadIndex":
        return this.r.reads.request(this.r, i.ctx);
      case "Compact":
        return this.stepCompact(i.snapshot);
      default:
        return this.r.step(i);
    }
  }

  /**
   * Append `data` to the log (leader only). On success the entry will appear
   * in committedEntries at `index` with `term` if it commits; if another
   * entry shows up at that index, this proposal was lost.
   */
  private stepPropose(data: string): ProposeResult {
    const r = this.r;
    if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
    if (r.leadTransferee !== undefined) return { ok: false, code: "TRANSFERRING" };
    const index = appendEntries(r, [{ type: "normal", data }]);
    return { ok: true, index, term: r.term };
  }

  /**
   * Add or remove one voter (thesis §4.1). The new voter set takes effect on
   * each node when the conf entry is appended to its log. Refused while a
   * previous change is uncommitted, or before the leader has committed an
   * entry of its own term.
   */
  private stepConfChange(change: ConfChange): ConfChangeResult {
    const r = this.r;
    if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
    if (r.leadTransferee !== undefined) return { ok: false, code: "TRANSFERRING" };
    if (r.log.term(r.log.committed) !== r.term)
      return { ok: false, code: "CONF_CHANGE_PENDING", message: "the leader has not committed an entry of its term yet" };
    if (r.lastConfIndex > r.log.committed)
      return { ok: false, code: "CONF_CHANGE_PENDING", message: `conf change at index ${r.lastConfIndex} is not committed yet` };
    const next = applyChange(r.voters, change);
    if (typeof next === "string") return { ok: false, code: "INVALID_CONF_CHANGE", message: next };
    const index = appendEntries(r, [{ type: "conf", data: encodeConf(change, next) }]);
    return { ok: true, index, term: r.term };
  }

  /**
   * Hand leadership to `to` (thesis §3.10): bring it up to date, then send
   * TimeoutNow. Proposals are refused meanwhile; the attempt is abandoned
   * after an election timeout.
   */
  private stepTransfer(to: string): TransferResult {
    const r = this.r;
    if (r.role !== "leader") return { ok: false, code: "NOT_LEADER", leader: r.leader };
    if (to === r.id) {
      r.leadTransferee = undefined;
      return { ok: true };
    }
    const pr = r.progress.get(to);
    if (!pr || !r.voters.includes(to)) return { ok: false, code: "UNKNOWN_PEER", message: `${to} is not a voter` };
    if (r.leadTransferee === to) return { ok: true };
    r.leadTransferee = to;
    r.electionElapsed = 0; // the abort timer (see Raft.tickLeader)
    if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
    else sendAppend(r, to, true);
    return { ok: true };
  }

  /**
   * The application took a snapshot covering everything up to `index`
   * (which it has applied). Raft drops those entries and keeps the snapshot
   * for followers that fall behind. The returned snapshot (with the voter set
   * at `index`) is what the driver persists, after which it may delete the
   * stored entries up to `index`.
   */
  private stepCompact(snap: { index: number; term: number; data: string }): CompactResult {
    const log = this.r.log;
    const bad = (message: string): CompactResult => ({ ok: false, code: "INVALID_SNAPSHOT", message });
    if (snap.index <= log.snapshot.index) return bad(`index ${snap.index} is already compacted (snapshot at ${log.snapshot.index})`);
    if (snap.index > log.applied) return bad(`index ${snap.index} is beyond the applied index ${log.applied}`);
    if (log.term(snap.index) !== snap.term) return bad(`term ${snap.term} does not match the log's term ${log.term(snap.index)} at ${snap.index}`);
    const snapshot = { index: snap.index, term: snap.term, voters: this.r.votersAt(snap.index), data: snap.data };
    log.compact(snapshot);
    return { ok: true, snapshot };
  }

  hasReady(): boolean {
    const r = this.r;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.pendingSnapshot !== undefined ||
      r.log.persisted < r.log.lastIndex() ||
      r.log.hasNextCommitted() ||
      r.votersVersion !== this.reportedVoters ||
      !sameHard(this.hardState(), this.prevHard) ||
      !sameSoft(this.softState(), this.prevSoft)
    );
  }

  /** The next batch of work; see Ready in types.ts for the order to process it in. */
  ready(): Ready {
    if (this.outstanding) throw new Error("raft: ready() called again before advance()");
    const r = this.r;
    const log = r.log;
    const rd: Ready = {
      entries: log.unstableEntries(),
      messages: r.msgs,
      sendBeforePersist: 0,
      committedEntries: log.nextCommitted(r.cfg.maxCommittedPerReady),
      readStates: r.readStates,
    };
    r.msgs = [];
    r.reads.outboxTaken(); // heartbeats of a read round now leave: later reads need another (readindex.ts)
    r.readStates = [];
    if (log.pendingSnapshot) {
      rd.snapshot = log.pendingSnapshot;
      log.pendingSnapshot = undefined;
    }
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last) log.applying = last.index;
    const hs = this.hardState();
    const sameTermAndVote = hs.term === this.prevHard.term && hs.vote === this.prevHard.vote;
    rd.sendBeforePersist = sameTermAndVote && !rd.snapshot ? frontEarly(rd.messages, log.persisted) : 0;
    if (!sameHard(hs, this.prevHard)) rd.hardState = this.prevHard = hs;
    const ss = this.softState();
    if (!sameSoft(ss, this.prevSoft)) rd.softState = this.prevSoft = ss;
    if (r.votersVersion !== this.reportedVoters) {
      rd.voters = r.voters.slice();
      this.reportedVoters = r.votersVersion;
    }
    this.outstanding = rd;
    return rd;
  }

  /** The driver persisted, sent and applied `rd` as described on Ready. */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new Error("raft: advance() with a Ready that is not the outstanding one");
    const log = this.r.log;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) log.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot) log.appliedTo(rd.snapshot.index);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) log.appliedTo(lastApplied.index);
    this.outstanding = undefined;
  }

  /**
   * Whether this leader's followers alone, a majority of the voters without
   * it, acknowledged having persisted its log up to `index` in the current
   * term (a follower acks an Append only after its own fsync). Such entries
   * are durable on a majority whether or not this node's own write of them
   * is, so a driver whose own fsync is still running may treat them as
   * persisted (thesis §10.2.1: the leader's write is not needed for a
   * commit). `term` is the term the caller saw the entries in: a leader
   * that changed term since then answers false.
   */
  durableOnFollowers(index: number, term: number): boolean {
    const r = this.r;
    if (r.role !== "leader" || r.term !== term) return false;
    return quorumMatchIndex(r.voters, (id) => (id === r.id ? 0 : (r.progress.get(id)?.match ?? 0))) >= index;
  }

  /**
   * Role, leader, term and commit index alone. status() copies the voters and
   * builds a progress row per follower (~7 µs): callers that ask per message
   * or per request (is this node the leader?) use this.
   */
  brief(): BriefStatus {
    const r = this.r;
    return { term: r.term, role: r.role, leader: r.leader, commitIndex: r.log.committed };
  }

  status(): Status {
    const r = this.r;
    const st: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.leader,
      commitIndex: r.log.committed,
      appliedIndex: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      snapshotIndex: r.log.snapshot.index,
      voters: r.voters.slice(),
      tick: r.tickCount,
    };
    if (r.role === "leader") {
      const progress: Record<string, ProgressStatus> = {};
      for (const [id, pr] of r.progress) progress[id] = pr.status();
      st.progress = progress;
      if (r.leadTransferee !== undefined) st.leadTransferee = r.leadTransferee;
    }
    return st;
  }

  /** Term of the entry at `index`, or undefined if compacted or absent (tests, checkers). */
  termAt(index: number): number | undefined {
    return this.r.log.term(index);
  }

  /** Throws if an internal invariant is broken (tests and the simulator call this). */
  checkInvariants(): void {
    this.r.log.assertInvariants();
  }

  private hardState(): HardState {
    return { term: this.r.term, vote: this.r.vote, commit: this.r.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.r.leader, role: this.r.role };
  }
}
