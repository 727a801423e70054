// Log replication (§5.3), the commit rule (§5.4.2) and InstallSnapshot (§7):
// the leader's sending and ack handling first, then the follower's side.
import type { Raft } from "./raft.ts";
import { quorumMatchIndex } from "./quorum.ts";
import type { AppendMsg, AppendRespMsg, Entry, EntryType, HeartbeatMsg, HeartbeatRespMsg, SnapshotMsg } from "./types.ts";

// ------------------------------------------------------------------ leader

/** Leader appends new entries of its term; returns the last index. */
export function appendEntries(r: Raft, ents: { type: EntryType; data: string }[]): number {
  const first = r.log.lastIndex() + 1;
  const full: Entry[] = ents.map((e, i) => ({ index: first + i, term: r.term, type: e.type, data: e.data }));
  r.log.append(full);
  r.onAppended(full, false);
  // A single-voter cluster commits on append (the leader's own copy is the quorum).
  if (maybeCommit(r)) afterCommit(r);
  bcastAppend(r);
  return r.log.lastIndex();
}

/**
 * §5.4.2: commit the highest index stored on a majority of the *current*
 * voters, but only if it belongs to the current term; earlier-term entries
 * are committed indirectly (Figure 8). The leader counts its own log as
 * matching up to lastIndex: its Ready persists those entries before anything
 * is applied, and before any message that carries the commit is sent (the
 * Appends a driver may send earlier carry only a durable commit index; see
 * Ready.sendBeforePersist), so the commit cannot be observed before it is
 * durable here.
 */
export function maybeCommit(r: Raft): boolean {
  const idx = quorumMatchIndex(r.voters, (id) => (id === r.id ? r.log.lastIndex() : (r.progress.get(id)?.match ?? 0)));
  if (idx > r.log.committed && (r.log.term(idx) === r.term || r.cfg.unsafe?.commitEarlierTerms)) {
    r.log.commitTo(idx);
    r.reads.onCommit(r);
    return true;
  }
  return false;
}

/**
 * After a commit: tell followers, then (thesis §4.2.2) a leader that is not
 * in the configuration it just committed steps down.
 */
function afterCommit(r: Raft): void {
  bcastAppend(r);
  r.pruneProgress();
  if (!r.voters.includes(r.id) && r.log.committed >= r.lastConfIndex) {
    r.logger?.info("raft: removed from the configuration, stepping down", { id: r.id, term: r.term });
    r.becomeFollower(r.term, undefined);
  }
}

export function bcastAppend(r: Raft): void {
  for (const id of r.progress.keys()) sendAppend(r, id, true);
}

/** One heartbeat round (readindex.ts: every broadcast is a numbered read-index round). */
export function bcastHeartbeat(r: Raft): void {
  const readSeq = r.reads.nextRound();
  for (const [to, pr] of r.progress) {
    r.send({ type: "Heartbeat", to, term: r.term, commit: Math.min(pr.match, r.log.committed), readSeq });
  }
}

/**
 * Send `to` the entries from its `next`, at most maxEntriesPerAppend, or the
 * snapshot if we compacted what it needs. Returns whether a message was sent.
 */
export function sendAppend(r: Raft, to: string, sendIfEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) {
    if (prevIndex > r.log.lastIndex()) throw new Error(`raft: next ${pr.next} for ${to} beyond last ${r.log.lastIndex()}`);
    const snapshot = r.log.snapshot;
    r.send({ type: "Snapshot", to, term: r.term, snapshot });
    pr.becomeSnapshot(snapshot.index, r.tickCount);
    r.logger?.debug("raft: sending snapshot", { id: r.id, to, index: snapshot.index });
    return true;
  }
  const last = Math.min(r.log.lastIndex(), pr.next + r.cfg.maxEntriesPerAppend - 1);
  const entries = r.log.slice(pr.next, last);
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: "Append", to, term: r.term, prevIndex, prevTerm, entries, commit: r.log.committed });
  pr.sentAppend(entries.length, prevIndex + entries.length, r.tickCount);
  return true;
}

/**
 * Where to retry after a rejection (thesis §5.3 optimisation): if we hold
 * entries of the follower's conflicting term, resume after our last one of
 * them; otherwise skip the follower's whole run of that term.
 */
function nextFromHint(r: Raft, m: AppendRespMsg): number {
  if (m.conflictTerm === 0) return m.conflictIndex + 1; // follower's log is shorter
  const idx = r.log.lastIndexWithTermAtMost(Math.min(m.index, r.log.lastIndex()), m.conflictTerm);
  if (idx !== undefined && r.log.term(idx) === m.conflictTerm) return idx + 1;
  return m.conflictIndex;
}

export function handleAppendResp(r: Raft, m: AppendRespMsg): void {
  const pr = r.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.lastContactTick = r.tickCount;
  if (m.reject) {
    if (pr.maybeDecrTo(m.index, nextFromHint(r, m))) sendAppend(r, m.from, true);
    return;
  }
  if (!pr.maybeUpdate(m.index)) return; // stale or duplicated ack
  if (pr.state === "probe") pr.becomeReplicate();
  else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
  else if (pr.state === "replicate") pr.inflights.freeLE(m.index);

  if (maybeCommit(r)) afterCommit(r);
  if (r.role !== "leader") return;
  // Stream what is left, up to the in-flight window.
  while (sendAppend(r, m.from, false));
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

export function handleHeartbeatResp(r: Raft, m: HeartbeatRespMsg): void {
  const pr = r.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.lastContactTick = r.tickCount;
  // The follower is reachable, so something it should have answered may
  // have been lost: a probe (send it again), a snapshot (after a while), or
  // streamed Appends whose acks stopped coming (fall back to probing).
  pr.probeSent = false;
  // Two heartbeat rounds without an ack: long for a network round trip, short
  // enough that a lost Append is resent before clients notice.
  const lossTicks = Math.min(r.cfg.electionTicks, 2 * r.cfg.heartbeatTicks);
  if (pr.state === "snapshot" && r.tickCount - pr.snapshotSentTick >= lossTicks) pr.becomeProbe();
  if (pr.stalled(r.tickCount, lossTicks)) pr.becomeProbe();
  // While Appends are in flight, an empty one would only overtake them and be
  // refused (messages may be reordered); their acks will come.
  const awaitingAcks = pr.state === "replicate" && pr.inflights.count() > 0;
  if (pr.match < r.log.lastIndex() && !awaitingAcks) sendAppend(r, m.from, true);
  r.reads.onAck(r, m.from, m.readSeq);
}

export function sendTimeoutNow(r: Raft, to: string): void {
  r.logger?.info("raft: sending TimeoutNow", { id: r.id, to, term: r.term });
  r.send({ type: "TimeoutNow", to, term: r.term });
}

// ---------------------------------------------------------------- follower

function reply(r: Raft, to: string, fields: Partial<AppendRespMsg>): void {
  r.send({ type: "AppendResp", to, term: r.term, reject: false, index: 0, conflictTerm: 0, conflictIndex: 0, ...fields });
}

/** Figure 2, AppendEntries receiver rules 2-5. */
export function handleAppend(r: Raft, m: AppendMsg): void {
  const log = r.log;
  if (m.prevIndex < log.committed) {
    // Everything up to our commit index matches the leader (Leader
    // Completeness), so tell it to resume from there.
    return reply(r, m.from, { index: log.committed });
  }
  if (log.matchTerm(m.prevIndex, m.prevTerm)) {
    const lastNew = m.prevIndex + m.entries.length;
    const conflict = log.findConflict(m.entries);
    if (conflict !== 0) {
      const ents = m.entries.slice(conflict - m.prevIndex - 1);
      const truncated = log.append(ents);
      r.onAppended(ents, truncated);
    }
    // Rule 5: never beyond what this message proved we hold.
    log.commitTo(Math.min(m.commit, lastNew));
    return reply(r, m.from, { index: lastNew });
  }
  // Rule 2 failed: hint where our log diverges (thesis §5.3).
  if (m.prevIndex > log.lastIndex()) {
    return reply(r, m.from, { reject: true, index: m.prevIndex, conflictTerm: 0, conflictIndex: log.lastIndex() });
  }
  const conflictTerm = log.term(m.prevIndex)!;
  const conflictIndex = log.firstIndexOfTerm(m.prevIndex, conflictTerm);
  reply(r, m.from, { reject: true, index: m.prevIndex, conflictTerm, conflictIndex });
}

export function handleHeartbeat(r: Raft, m: HeartbeatMsg): void {
  // m.commit <= what the leader knows we hold, so it cannot point past our log.
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: "HeartbeatResp", to: m.from, term: r.term, readSeq: m.readSeq });
}

/** §7 InstallSnapshot receiver. */
export function handleSnapshot(r: Raft, m: SnapshotMsg): void {
  const s = m.snapshot;
  const log = r.log;
  if (s.index <= log.committed) return reply(r, m.from, { index: log.committed });
  if (log.matchTerm(s.index, s.term)) {
    // We already hold that prefix: just learn that it is committed.
    log.commitTo(s.index);
    return reply(r, m.from, { index: log.committed });
  }
  r.logger?.info("raft: restoring snapshot", { id: r.id, index: s.index, term: s.term });
  r.restoreSnapshot(s);
  reply(r, m.from, { index: s.index });
}
