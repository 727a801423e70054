// The Raft state machine: term, vote, role and the log, advanced only by
// tick() and step(). Roles are data (etcd style): becomeX() resets the
// volatile state and tick()/step() dispatch on `role`. This file holds the
// state every rule shares, the configuration bookkeeping and the role
// changes; message dispatch is in step.ts, elections in election.ts,
// replication in replication.ts, reads in readindex.ts.
import { resolveConfig, validateConfig, type RaftConfig, type ResolvedConfig } from "./config.ts";
import { hup } from "./election.ts";
import { RaftLog } from "./log.ts";
import { decodeConf, encodeConf, sameVoters } from "./membership.ts";
import { Progress } from "./progress.ts";
import { hasQuorum } from "./quorum.ts";
import { ReadQueue } from "./readindex.ts";
import { appendEntries, bcastHeartbeat } from "./replication.ts";
import { stepMessage } from "./step.ts";
import type { Entry, Message, PersistedState, RaftLogger, ReadState, Role, Snapshot } from "./types.ts";

/** A message before `from` is filled in. */
export type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, "from"> : never) : never;

export class Raft {
  readonly id: string;
  readonly cfg: ResolvedConfig;
  readonly logger: RaftLogger | undefined;
  readonly log = new RaftLog();

  term = 0;
  vote: string | null = null;
  role: Role = "follower";
  leader: string | undefined;

  /** Voters per the last conf entry in the log (thesis §4.1), else the snapshot's. Sorted. */
  voters: string[] = [];
  votersVersion = 0;
  /** Index of the last conf entry in the log; 0 when the config comes from the snapshot. */
  lastConfIndex = 0;

  /** Leader: one per other voter, and per removed node until its removal commits. */
  readonly progress = new Map<string, Progress>();
  /** (Pre)candidate: answers received in this round. */
  readonly votes = new Map<string, boolean>();
  /** Leader: index of the no-op that opened this term (thesis §6.4). */
  noopIndex = 0;
  leadTransferee: string | undefined;
  readonly reads: ReadQueue;
  readStates: ReadState[] = [];
  msgs: Message[] = [];

  /** Ticks since the last leader contact (follower) or the last check-quorum round (leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since construction; only for status and progress bookkeeping. */
  tickCount = 0;
  /**
   * Restarted from storage and not yet past one election timeout: act as if a
   * leader had just been heard. Before a crash this node may have answered a
   * leader's heartbeat and so promised (check-quorum, thesis §4.2.3) not to
   * help elect another for an election timeout; that leader may be answering
   * reads on the promise (the driver's lease, core/cluster/raft/lease.ts). A
   * quick restart must not break it. Cleared by any role change.
   */
  private restartLease = false;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    const errs = validateConfig(this.cfg);
    if (errs.length > 0) throw new Error(`raft: invalid config: ${errs.join(" ")}`);
    this.id = this.cfg.id;
    this.logger = this.cfg.logger;
    this.reads = new ReadQueue(this.cfg.maxPendingReads);
    if (this.cfg.restore) this.restoreFrom(this.cfg.restore, this.cfg.applied);
    else if (this.cfg.peers.length > 0) this.bootstrap(this.cfg.peers);
    this.becomeFollower(this.term, undefined);
    this.restartLease = this.cfg.restore !== undefined && this.cfg.checkQuorum;
  }

  /**
   * Every bootstrapping node writes the same first entry: the initial voter
   * set, at term 1, committed by construction. A node that joins later gets
   * it (or a snapshot covering it) from the leader like any other entry.
   */
  private bootstrap(peers: string[]): void {
    const entry: Entry = { index: 1, term: 1, type: "conf", data: encodeConf(undefined, peers) };
    this.term = 1;
    this.log.append([entry]);
    this.log.commitTo(1);
    this.recomputeConfig();
  }

  private restoreFrom(r: PersistedState, applied: number | undefined): void {
    if (r.snapshot) this.log.snapshot = r.snapshot;
    this.log.entries = r.entries.slice();
    this.term = r.hardState.term;
    this.vote = r.hardState.vote;
    const snapIndex = this.log.snapshot.index;
    this.log.committed = Math.max(r.hardState.commit, snapIndex);
    this.log.applied = this.log.applying = applied ?? snapIndex;
    this.log.persisted = this.log.lastIndex();
    this.recomputeConfig();
  }

  // ------------------------------------------------------------ config

  setVoters(voters: string[]): void {
    if (sameVoters(voters, this.voters)) return;
    this.logger?.info("raft: voters changed", { id: this.id, from: this.voters, to: voters });
    this.voters = voters.slice();
    this.votersVersion++;
    if (this.role === "leader") this.syncProgress();
  }

  /** After the log changed under a conf entry: use the last one still there (§4.1). */
  recomputeConfig(): void {
    const ents = this.log.entries;
    for (let i = ents.length - 1; i >= 0; i--) {
      if (ents[i]!.type === "conf") {
        this.lastConfIndex = ents[i]!.index;
        this.setVoters(decodeConf(ents[i]!).voters);
        return;
      }
    }
    this.lastConfIndex = 0;
    this.setVoters(this.log.snapshot.voters);
  }

  /** Called after entries were appended (by us as leader or from the leader). */
  onAppended(ents: Entry[], truncated: boolean): void {
    if (truncated) return this.recomputeConfig();
    for (let i = ents.length - 1; i >= 0; i--) {
      if (ents[i]!.type === "conf") {
        this.lastConfIndex = ents[i]!.index;
        this.setVoters(decodeConf(ents[i]!).voters);
        return;
      }
    }
  }

  /** Voters in force at `index` (<= lastIndex), for the snapshot taken there. */
  votersAt(index: number): string[] {
    for (let i = Math.min(index, this.log.lastIndex()); i >= this.log.firstIndex(); i--) {
      const e = this.log.entry(i)!;
      if (e.type === "conf") return decodeConf(e).voters;
    }
    return this.log.snapshot.voters.slice();
  }

  restoreSnapshot(snap: Snapshot): void {
    this.log.restore(snap);
    this.lastConfIndex = 0;
    this.setVoters(snap.voters);
  }

  private syncProgress(): void {
    const next = this.log.lastIndex() + 1;
    for (const v of this.voters) {
      if (v !== this.id && !this.progress.has(v)) {
        const pr = new Progress(next, this.cfg.maxInflightAppends);
        pr.lastContactTick = this.tickCount;
        this.progress.set(v, pr);
      }
    }
    if (this.leadTransferee !== undefined && !this.voters.includes(this.leadTransferee)) this.leadTransferee = undefined;
    this.pruneProgress();
  }

  /**
   * A removed node keeps being replicated to until its removal commits, so
   * it learns that it is out and stops campaigning; it never counts in a
   * quorum meanwhile (quorums only look at `voters`).
   */
  pruneProgress(): void {
    if (this.lastConfIndex > this.log.committed) return;
    for (const id of [...this.progress.keys()]) if (!this.voters.includes(id)) this.progress.delete(id);
  }

  /**
   * Whether we may campaign. A voter may. A node outside its latest
   * configuration may too while that configuration is uncommitted: it can
   * hold the only up-to-date log, e.g. a leader that appended its own
   * removal and lost leadership before replicating it (thesis §4.1: such a
   * server "should still start new elections, as it might still be needed
   * until the C_new entry is committed"). Once the removal is known to be
   * committed it stays quiet, so removed nodes do not disrupt (§4.2.3).
   * Its votes only count from `voters`, never its own.
   */
  promotable(): boolean {
    return this.voters.includes(this.id) || this.lastConfIndex > this.log.committed;
  }

  // ------------------------------------------------------------ roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = undefined;
    this.restartLease = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(this.cfg.rng() * this.cfg.electionTicks);
    this.leadTransferee = undefined;
    this.votes.clear();
    this.progress.clear();
    this.reads.reset(); // pending reads die with leadership; callers time out and retry
  }

  becomeFollower(term: number, leader: string | undefined): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
    this.logger?.debug("raft: became follower", { id: this.id, term, leader });
  }

  /** Thesis §9.6: ask whether we could win, without touching term or vote. */
  becomePreCandidate(): void {
    if (this.role === "leader") throw new Error("raft: leader cannot become precandidate");
    const { term, vote } = this;
    this.reset(term);
    this.vote = vote;
    this.role = "precandidate";
    this.logger?.debug("raft: became precandidate", { id: this.id, term });
  }

  becomeCandidate(): void {
    if (this.role === "leader") throw new Error("raft: leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.logger?.debug("raft: became candidate", { id: this.id, term: this.term });
  }

  becomeLeader(): void {
    if (this.role === "follower") throw new Error("raft: follower cannot become leader");
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.syncProgress();
    // Thesis §6.4 / §5.4.2: a no-op of our own term lets us commit (and so
    // learn the commit index of) everything earlier.
    this.noopIndex = appendEntries(this, [{ type: "noop", data: "" }]);
    this.logger?.info("raft: became leader", { id: this.id, term: this.term, lastIndex: this.log.lastIndex() });
  }

  // ------------------------------------------------------------ input

  send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id } as Message);
  }

  /**
   * Leader lease (thesis §4.2.3): we heard from a leader less than an election
   * timeout ago, or restarted less than one ago (see restartLease).
   */
  inLease(): boolean {
    return (this.leader !== undefined || this.restartLease) && this.electionElapsed < this.cfg.electionTicks;
  }

  tick(): void {
    this.tickCount++;
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      hup(this, false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        // Thesis §6.2: a leader cut off from a majority steps down, so clients
        // stop waiting on it and its lease-holding followers can move on.
        const active = (id: string) => id === this.id || this.progress.get(id)?.recentActive === true;
        if (!hasQuorum(this.voters, active)) {
          this.logger?.info("raft: lost quorum, stepping down", { id: this.id, term: this.term });
          return this.becomeFollower(this.term, undefined);
        }
        for (const pr of this.progress.values()) pr.recentActive = false;
      }
      // Thesis §3.10: a transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== undefined) {
        this.logger?.info("raft: leadership transfer timed out", { id: this.id, to: this.leadTransferee });
        this.leadTransferee = undefined;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this);
    }
  }

  step(m: Message): void {
    stepMessage(this, m);
  }
}
