// The Raft driver's shell: owns the real clock (a tick timer), the SQLite
// storage and the HTTP transport around core/raft's driver (driver.ts: the
// one Ready loop, also run by the simulator), and implements the Replicator
// interface, so callers of propose() do not know whether one node or five
// order their commands. What is left here is timers and promises: ticking,
// coalescing drains, answering proposers and reads, leases, forwarding.
import { LogThrottle } from "../../log-throttle.ts";
import { RaftDriver, RaftNode, type Entry, type Message, type Processed, type Status } from "../../raft/index.ts";
import type { Store } from "../../store/db.ts";
import type { Fsm, AppliedEntry } from "../../state/fsm.ts";
import { Command, encodeCommand } from "../../state/commands.ts";
import { ReplicationError, type ProposeOutcome, type ReplicationStatus, type Replicator } from "../../state/replicator.ts";
import type { Logger } from "../../log.ts";
import { TRIM_ROWS_PER_READY, type SqliteRaftStorage } from "./storage.ts";
import { FsmStateMachine } from "./fsm-machine.ts";
import type { RaftTransport } from "./transport.ts";
import { RpcError, type LeaderForwarder } from "../leader-client.ts";
import { ReadBarriers } from "./reads.ts";
import { LeaderLease, leaseDurationMs } from "./lease.ts";
import { NewerFormatError } from "../../state/command-versions.ts";
import { commitTrace } from "./commit-trace.ts";
import { isPlainKVSet } from "../../state/plain-kv-set.ts";
import { StatusReportBatcher, isAgentReport } from "./status-report-batch.ts";

export interface RaftReplicatorOptions {
  /** Raft id: the advertised "host:port" of a leader-role node; a dev node uses a fixed id (see setup.ts). */
  id: string;
  /** This node's "host:port", reported as the leader's address when we lead. */
  selfAddress: string;
  /** The other leader-role nodes at bootstrap. */
  peers: string[];
  join: boolean;
  store: Store;
  fsm: Fsm;
  storage: SqliteRaftStorage;
  transport: RaftTransport;
  forwarder: LeaderForwarder;
  log: Logger;
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  snapshotThreshold: number;
  /** How long a proposal may wait to be applied. */
  proposeTimeoutMs?: number;
  /**
   * Propose LeaderElected { leader, term } on winning an election, so leader
   * changes are in the log and the event stream can replay them. Off in unit
   * tests whose index arithmetic starts right after the election no-op.
   */
  announceLeadership?: boolean;
  rng?: () => number;
  /**
   * Persisting a Ready failed (disk full, I/O error, the database locked by
   * another process): this replicator has stopped for good. The node decides
   * how to end (core/node.ts: unhealthy, then exit non-zero).
   */
  onFatal?: (err: Error) => void;
}

interface Pending {
  term: number;
  proposedAt: number;
  resolve: (o: ProposeOutcome) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A heartbeat round this many intervals after the last one is late (warned about, see noteLate). */
const LATE_TICKS = 5;
const LATE_WARN_MS = 10_000;

export class RaftReplicator implements Replicator {
  readonly node: RaftNode;
  private readonly driver: RaftDriver<AppliedEntry>;
  private pending = new Map<number, Pending>();
  private reads: ReadBarriers;
  /** Default-mode reads (lease.ts); renewed by every read-index round. */
  private lease: LeaderLease;
  private leaseRound?: Promise<void>;
  private ticker?: ReturnType<typeof setInterval>;
  private drainScheduled = false;
  /** Inside drain(): a step() from within it (a synchronous transport) must not drain again. */
  private draining = false;
  private closed = false;
  private lastLeaderContact = Date.now();
  private leaderListeners = new Set<(isLeader: boolean, leader: string | undefined) => void>();
  private latencyListeners = new Set<(seconds: number) => void>();
  private announcedTerm = 0;
  private readonly tickMs: number;
  /** When the Raft clock last ticked (performance.now()), and whether this node leads: a leader's late ticks are warned about. */
  private lastTickAt = 0;
  private leading = false;
  /** Late heartbeat rounds, warned about at most every LATE_WARN_MS, with the worst gap since the last warning. */
  private late = new LogThrottle(LATE_WARN_MS);
  private lateWorstMs = 0;
  /** Agents' status reports that reach the leader in one turn become one entry (status-report-batch.ts). */
  readonly statusReports = new StatusReportBatcher({
    propose: (cmd) => this.proposeAsLeader(cmd),
    isLeader: () => this.node.brief().role === "leader",
    proposeAlone: (cmd) => this.proposeAsLeader(cmd),
  });

  constructor(private opts: RaftReplicatorOptions) {
    this.reads = new ReadBarriers(() => opts.fsm.appliedIndex());
    this.tickMs = opts.heartbeatIntervalMs;
    const electionTicks = Math.max(2, Math.round(opts.electionTimeoutMs / this.tickMs));
    this.lease = new LeaderLease(leaseDurationMs(electionTicks, this.tickMs));
    const restore = opts.storage.load();
    this.node = new RaftNode({
      id: opts.id,
      peers: restore || opts.join ? [] : [opts.id, ...opts.peers.filter((p) => p !== opts.id)],
      electionTicks,
      heartbeatTicks: 1,
      rng: opts.rng ?? Math.random,
      restore,
      applied: restore ? opts.fsm.appliedIndex() : undefined,
      logger: opts.log,
    });
    // The leader's own fsync on the thread pool (raft.sync = "full"): its
    // completion, or its followers' acks stepped meanwhile, finishes the
    // waiting Ready in the next drain() (docs/raft.md, "A leader's own fsync").
    const deferred = opts.storage.deferredSync();
    this.driver = new RaftDriver({
      node: this.node,
      storage: opts.storage,
      transport: opts.transport,
      stateMachine: new FsmStateMachine(opts.store, opts.fsm),
      housekeeping: () => opts.storage.trim(TRIM_ROWS_PER_READY),
      trace: commitTrace && ((stage, rd) => commitTrace!.stage(stage, rd)),
      deferredSync: deferred && { sync: deferred, wake: () => this.drain() },
    });
  }

  start(): void {
    // A lone voter needs nobody's vote: lead now instead of after an election timeout.
    const st = this.node.status();
    if (st.voters.length === 1 && st.voters[0] === this.opts.id && st.role !== "leader") this.node.campaign();
    this.lastTickAt = performance.now();
    this.ticker = setInterval(() => this.tick(performance.now()), this.tickMs);
    this.drain();
  }

  private tick(now: number): void {
    const gap = now - this.lastTickAt;
    this.lastTickAt = now;
    if (this.leading && gap >= this.tickMs * LATE_TICKS) this.noteLate(now, gap);
    this.node.tick();
    this.drain();
  }

  /** As etcd warns "leader failed to send out heartbeat on time": the loop was busy for several intervals. */
  private noteLate(now: number, gapMs: number): void {
    this.lateWorstMs = Math.max(this.lateWorstMs, gapMs);
    const late = this.late.note(now);
    if (late === undefined) return;
    this.opts.log.warn("raft: the leader's heartbeats went out late: its event loop was held up (overload, a garbage-collection pause, a long request); past leader.election_timeout its followers elect another leader", {
      late, worstMs: Math.round(this.lateWorstMs), intervalMs: this.tickMs,
    });
    this.lateWorstMs = 0;
  }

  /** Messages from a peer (POST /v1/raft/message). */
  step(messages: Message[]): void {
    if (this.closed) return;
    commitTrace?.stepped(messages);
    for (const m of messages) {
      if (m.to !== this.opts.id) continue;
      if (m.from === this.node.brief().leader) this.lastLeaderContact = Date.now();
      this.node.step(m);
    }
    if (this.drainsAtOnce(messages)) this.drain();
    else this.scheduleDrain();
  }

  /**
   * Whether stepped messages are drained at once instead of on the next
   * event-loop turn. A peer's messages arrive in their own task (a stream
   * frame, a request), never inside a drain, so draining here is not
   * re-entrant (checked anyway); the Ready is the same one the setImmediate
   * would have built a turn later, minus the hop (26-70 µs on the commit
   * trace, docs/raft.md). That hop is what coalesces what arrives in one
   * turn into one Ready, so it stays wherever coalescing saves an fsync:
   * while a drain is scheduled anyway (a proposal or another frame is
   * waiting for it), and for Appends carrying entries (a follower writes and
   * fsyncs those; several frames read in one turn make one write). What is
   * left is the leader stepping acks (the one-client commit: ack → commit
   * Ready → apply → answer), heartbeats, votes and commit notices: their
   * Readies persist nothing new, or a term or vote.
   */
  private drainsAtOnce(messages: Message[]): boolean {
    if (this.drainScheduled || this.draining || this.closed) return false;
    for (const m of messages) if (m.type === "Append" && m.entries.length > 0) return false;
    return true;
  }

  async propose(command: Command): Promise<ProposeOutcome> {
    if (this.closed) throw new ReplicationError("SHUTTING_DOWN", "node is shutting down");
    // The KV and lock writes' KVSet, plain, is what the schema would return unchanged (plain-kv-set.ts).
    const parsed = isPlainKVSet(command) ? { success: true as const, data: command } : Command.safeParse(command);
    if (!parsed.success) throw new ReplicationError("INVALID_COMMAND", `invalid command: ${parsed.error.issues[0]?.message ?? "?"}`);
    if (this.node.brief().role !== "leader") return this.forward(parsed.data);
    if (isAgentReport(parsed.data)) return this.statusReports.add(parsed.data);
    return this.proposeAsLeader(parsed.data);
  }

  /** A validated command into this leader's log (forwarded if it no longer leads). */
  private proposeAsLeader(cmd: Command): Promise<ProposeOutcome> {
    if (this.closed) return Promise.reject(new ReplicationError("SHUTTING_DOWN", "node is shutting down"));
    const r = this.node.propose(encodeCommand(cmd));
    if (!r.ok) {
      if (r.code === "TRANSFERRING") return Promise.reject(new ReplicationError("NOT_LEADER", "leadership is being transferred; retry"));
      return this.forward(cmd);
    }
    commitTrace?.proposed(r.index);
    const outcome = this.waitApplied(r.index, r.term);
    this.scheduleDrain();
    return outcome;
  }

  /** Single-server membership change (thesis §4.1); resolves once committed. */
  async changeMembership(type: "add" | "remove", node: string): Promise<number> {
    const r = this.node.proposeConfChange({ type, node });
    if (!r.ok) {
      const code = r.code === "NOT_LEADER" ? "NOT_LEADER" : "INVALID_COMMAND";
      const msg = "message" in r ? r.message : `not the leader${"leader" in r && r.leader ? ` (leader: ${r.leader})` : ""}`;
      throw new ReplicationError(code, msg, "leader" in r ? r.leader : undefined);
    }
    this.scheduleDrain();
    return (await this.waitApplied(r.index, r.term)).index;
  }

  transferLeadership(to?: string): void {
    const st = this.node.status();
    if (st.role !== "leader") throw new ReplicationError("NOT_LEADER", "only the leader can transfer leadership", st.leader);
    const target = to ?? this.bestFollower(st);
    if (!target) throw new ReplicationError("INVALID_COMMAND", "no other voter to transfer leadership to");
    this.lease.revoke(st.term);
    const r = this.node.transferLeadership(target);
    if (!r.ok) throw new ReplicationError(r.code === "NOT_LEADER" ? "NOT_LEADER" : "INVALID_COMMAND", "message" in r ? r.message : "not the leader");
    this.scheduleDrain();
  }

  /**
   * Linearizable read barrier (thesis §6.4): the leader confirms it still
   * leads with a heartbeat round to a quorum, then waits until it has
   * applied the commit index of that moment.
   */
  async readBarrier(timeoutMs = 5000): Promise<void> {
    // The round's send time, taken before Raft sends it: the lease it grants
    // starts no later than the heartbeats the followers answer (lease.ts).
    const sentAt = performance.now();
    const term = this.node.status().term;
    const index = await this.reads.wait((ctx) => {
      const r = this.node.readIndex(ctx);
      if (!r.ok) {
        const code = r.code === "NOT_LEADER" ? "NOT_LEADER" : "TIMEOUT";
        return new ReplicationError(code, "message" in r ? r.message : "not the leader", "leader" in r ? r.leader : undefined);
      }
      this.scheduleDrain();
      return undefined;
    }, timeoutMs);
    this.lease.confirmed(term, sentAt, index);
  }

  /**
   * Default-mode read barrier: nothing to wait for while this leader's lease
   * holds on the monotonic clock (lease.ts; a paused leader's has run out when
   * it resumes), else a read-index round, shared by the reads that arrive
   * meanwhile. Past half its life the lease is renewed in the background.
   */
  async leaseBarrier(timeoutMs = 5000): Promise<void> {
    const st = this.node.status();
    if (st.role !== "leader") throw new ReplicationError("NOT_LEADER", "not the leader", this.status().leader);
    if (st.leadTransferee !== undefined) this.lease.revoke(st.term);
    let index = this.lease.holds(st.term, performance.now());
    if (index === undefined) {
      await this.sharedLeaseRound(timeoutMs);
      // That round may have begun before this read arrived: judge the lease
      // now, at answer time (still leading: once stepped down, this node may
      // vote for another); if it no longer holds, this read gets its own round.
      const now = this.node.status();
      index = now.role === "leader" ? this.lease.holds(now.term, performance.now()) : undefined;
      if (index === undefined) return this.readBarrier(timeoutMs);
    } else if (this.lease.wantsRenewal(performance.now())) {
      this.sharedLeaseRound(timeoutMs).catch(() => {});
    }
    if (this.opts.fsm.appliedIndex() < index) await this.reads.untilApplied(index);
  }

  /** One read-index round at a time renews the lease for every default read waiting on it. */
  private sharedLeaseRound(timeoutMs: number): Promise<void> {
    this.leaseRound ??= this.readBarrier(timeoutMs).finally(() => (this.leaseRound = undefined));
    return this.leaseRound;
  }

  status(): ReplicationStatus {
    // Asked per request by many callers (is this node the leader?): the brief status, not the whole one.
    const st = this.node.brief();
    const isLeader = st.role === "leader";
    return {
      isLeader,
      leader: st.leader === this.opts.id ? this.opts.selfAddress : st.leader,
      term: st.term,
      commitIndex: st.commitIndex,
      appliedIndex: this.opts.fsm.appliedIndex(),
      lastContactMs: isLeader ? 0 : st.leader ? Date.now() - this.lastLeaderContact : -1,
    };
  }

  raftStatus(): Status {
    return this.node.status();
  }

  onLeadershipChange(fn: (isLeader: boolean, leader: string | undefined) => void): () => void {
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /** Time from propose to applied of each of this leader's own entries (corral_raft_apply_duration_seconds). */
  onApplyLatency(fn: (seconds: number) => void): () => void {
    this.latencyListeners.add(fn);
    return () => this.latencyListeners.delete(fn);
  }

  /** Durable (fsynced, with raft.sync = "full") Ready units so far: corral_raft_fsyncs_total. */
  fsyncCount(): number {
    return this.opts.storage.fsyncs;
  }

  /** The leader's writes synced off the event loop (raft.leader_fsync = "parallel"), by what made them durable first. */
  leaderWritesDurable(): { sync: number; followers: number } {
    return this.driver.deferredFinished;
  }

  /** Graceful stop: hand leadership to the most up-to-date follower first. */
  async close(): Promise<void> {
    if (this.closed) return;
    const st = this.node.status();
    if (st.role === "leader" && st.voters.length > 1) {
      try {
        this.transferLeadership();
        const deadline = Date.now() + Math.min(2000, this.opts.electionTimeoutMs * 2);
        while (Date.now() < deadline && this.node.status().role === "leader") await new Promise((r) => setTimeout(r, 20));
      } catch (err) {
        this.opts.log.warn("leadership transfer on shutdown failed", { err });
      }
    }
    this.closed = true;
    clearInterval(this.ticker);
    this.opts.transport.close();
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ReplicationError("SHUTTING_DOWN", "node is shutting down; the write may still be applied (outcome unknown)", undefined, "unknown"));
    }
    this.pending.clear();
  }

  // ---- internals ----

  private waitApplied(index: number, term: number): Promise<ProposeOutcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(index);
        reject(new ReplicationError("TIMEOUT", `entry ${index} was not applied within ${this.opts.proposeTimeoutMs ?? 10_000} ms (outcome unknown)`));
      }, this.opts.proposeTimeoutMs ?? 10_000);
      this.pending.set(index, { term, proposedAt: performance.now(), resolve, reject, timer });
    });
  }

  private async forward(cmd: Command): Promise<ProposeOutcome> {
    const leader = await this.waitForLeader();
    if (leader === this.opts.id) return this.propose(cmd);
    const out = await this.forwardRetryingRefusals(leader, cmd);
    // Read-your-writes on this node: answer once this replica has applied the
    // write too, so a `?stale` read here right after sees it. Bounded: the
    // write is committed either way, and a lagging replica only delays.
    await this.reads.untilApplied(out.index, this.opts.electionTimeoutMs);
    return out;
  }

  /**
   * A forward the leader certainly did not apply (the connection was refused,
   * it was no longer the leader) is sent again, to whoever leads by then, for
   * up to two election timeouts: a failover then costs the client a delay, not
   * an error. Anything that may have been applied is never resent.
   */
  private async forwardRetryingRefusals(leader: string, cmd: Command): Promise<ProposeOutcome> {
    const deadline = performance.now() + this.opts.electionTimeoutMs * 2;
    for (;;) {
      try {
        return await this.opts.forwarder.propose(leader, cmd);
      } catch (err) {
        const resendable = err instanceof RpcError && err.code === "NOT_LEADER" && err.outcome === "not-applied";
        if (!resendable || this.closed || performance.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, Math.max(10, this.tickMs)));
      leader = await this.waitForLeader();
      if (leader === this.opts.id) return this.propose(cmd);
    }
  }

  /** The current leader, waiting up to two election timeouts for one to emerge. */
  private async waitForLeader(): Promise<string> {
    const deadline = Date.now() + this.opts.electionTimeoutMs * 2;
    for (;;) {
      const leader = this.node.brief().leader;
      if (leader) return leader;
      if (Date.now() > deadline || this.closed) throw new ReplicationError("NOT_LEADER", "no leader elected (is a quorum of leader-role nodes up?)");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private bestFollower(st: Status): string | undefined {
    let best: string | undefined;
    let bestMatch = -1;
    for (const [id, pr] of Object.entries(st.progress ?? {})) {
      if (id === st.id || !st.voters.includes(id)) continue;
      if (pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
    }
    return best;
  }

  /** Coalesces bursts of proposals and messages into one Ready. */
  private scheduleDrain(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.draining) return this.scheduleDrain();
    this.draining = true;
    try {
      this.driver.drain((p) => this.afterReady(p), () => this.closed);
    } catch (err) {
      // Storage failed (disk full, I/O error): continuing could ack what is
      // not durable. Stop this node; the others carry on and it can rejoin.
      this.stopOnStorageFailure(err);
    } finally {
      this.draining = false;
    }
  }

  /** The driver persisted, applied, sent and advanced one Ready: answer whoever waits on it. */
  private afterReady({ ready: rd, applied }: Processed<AppliedEntry>): void {
    if (rd.snapshot) this.opts.log.info("installed snapshot", { index: rd.snapshot.index, term: rd.snapshot.term });
    this.settle(rd.committedEntries, applied);
    if (rd.softState) this.leadershipChanged(rd.softState.role === "leader", rd.softState.leader);
    for (const rs of rd.readStates) this.reads.confirmed(rs.ctx, rs.index);
    this.reads.applied();
    this.maybeCompact();
  }

  private settle(entries: Entry[], applied: AppliedEntry[]): void {
    const results = new Map(applied.map((a) => [a.index, a]));
    for (const e of entries) {
      const p = this.pending.get(e.index);
      if (!p) continue;
      this.pending.delete(e.index);
      clearTimeout(p.timer);
      const a = results.get(e.index);
      if (e.term === p.term && a) {
        p.resolve({ index: a.index, result: a.result });
        commitTrace?.settled(a.index);
        const seconds = (performance.now() - p.proposedAt) / 1000;
        for (const fn of this.latencyListeners) fn(seconds);
      } else p.reject(new ReplicationError("NOT_LEADER", "leadership changed before the write committed; it was not applied"));
    }
  }

  private leadershipChanged(isLeader: boolean, leader: string | undefined): void {
    this.lastLeaderContact = Date.now();
    this.leading = isLeader;
    this.opts.log.info(isLeader ? "raft: became leader" : "raft: following", { leader, term: this.node.status().term });
    for (const fn of this.leaderListeners) fn(isLeader, leader);
    if (isLeader) this.announceLeader();
    else this.reads.lostLeadership(leader);
  }

  /** Once per term won: LeaderElected into the log (see announceLeadership). */
  private announceLeader(): void {
    const term = this.node.status().term;
    if (!this.opts.announceLeadership || term <= this.announcedTerm) return;
    this.announcedTerm = term;
    this.propose({ type: "LeaderElected", v: 1, at: Date.now(), leader: this.opts.selfAddress, term }).catch((err) => {
      this.opts.log.debug("raft: announcing leadership failed (leadership moved on)", { err });
    });
  }

  /**
   * A Ready could not be persisted. Raft's node now waits for an advance()
   * that must not come (what it asked to persist is not on disk), so the
   * only safe state is stopped: no more ticks or drains (before this, every
   * tick threw "ready() called again before advance()" forever while the
   * node answered healthy), proposers answered, the node told (onFatal).
   * Appliers' deterministic failures never get here: the Fsm refuses them.
   */
  private stopOnStorageFailure(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    if (err instanceof NewerFormatError) this.opts.log.error(`raft: ${err.message}; this node stops replicating until it is upgraded`);
    else this.opts.log.error("raft: persisting to the state database failed; this node stops replicating and must be restarted", { err });
    this.opts.transport.close();
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ReplicationError("STORAGE_FAILED", "this node could not persist the write (outcome unknown); it is stopping"));
    }
    this.pending.clear();
    this.reads.lostLeadership(undefined);
    this.opts.onFatal?.(err instanceof Error ? err : new Error(String(err)));
  }

  /** Snapshot and compact once snapshotThreshold entries follow the last snapshot. */
  private maybeCompact(): void {
    let r;
    try {
      r = this.driver.maybeCompact(this.opts.snapshotThreshold);
    } catch (err) {
      this.stopOnStorageFailure(err);
      return;
    }
    if (!r) return;
    if (r.ok) this.opts.log.info("raft: snapshot taken, log compacted", { index: r.snapshot.index });
    else this.opts.log.warn("raft: compaction refused", { reason: r.message });
  }
}
