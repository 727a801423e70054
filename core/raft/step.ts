// Message dispatch: the rules every role applies first (term comparison,
// §5.1, with the pre-vote and lease exceptions), then each role's handling.
import { campaign, handleVoteRequest, handleVoteResponse } from "./election.ts";
import type { Raft } from "./raft.ts";
import { handleAppend, handleAppendResp, handleHeartbeat, handleHeartbeatResp, handleSnapshot } from "./replication.ts";
import type { Message } from "./types.ts";

export function stepMessage(r: Raft, m: Message): void {
  if (m.to !== r.id || m.from === r.id) return;
  if (m.term > r.term) {
    if (!acceptHigherTerm(r, m)) return;
  } else if (m.term < r.term) {
    return answerStaleTerm(r, m);
  }
  switch (m.type) {
    case "PreVote":
    case "Vote":
      return handleVoteRequest(r, m);
  }
  if (r.role === "leader") stepLeader(r, m);
  else if (r.role === "follower") stepFollower(r, m);
  else stepCandidate(r, m);
}

/**
 * §5.1: a higher term makes us a follower of that term. Exceptions: a
 * PreVote (and a granted PreVoteResp) carries a term nobody is in yet
 * (§9.6); a Vote arriving while we have a live leader is ignored so a
 * partitioned node cannot depose a healthy leader (§4.2.3), unless it was
 * started by a leadership transfer.
 */
function acceptHigherTerm(r: Raft, m: Message): boolean {
  if (m.type === "PreVote") return true;
  if (m.type === "PreVoteResp" && !m.reject) return true;
  if (m.type === "Vote" && !m.transfer && r.cfg.checkQuorum && r.inLease()) {
    r.logger?.debug("raft: ignoring vote request within lease", { id: r.id, from: m.from, term: m.term });
    return false;
  }
  const fromLeader = m.type === "Append" || m.type === "Heartbeat" || m.type === "Snapshot";
  const elapsed = r.electionElapsed;
  r.becomeFollower(m.term, fromLeader ? m.from : undefined);
  // Figure 2: the election timer restarts on hearing from the leader or
  // granting a vote, not on merely seeing a higher term. A vote request we
  // go on to reject leaves it running, so a stream of hopeless candidates
  // (stale or removed nodes) cannot starve a viable one forever.
  if (m.type === "Vote") r.electionElapsed = elapsed;
  return true;
}

/** §5.1: answer a stale sender with our term so it steps down; ignore the rest. */
function answerStaleTerm(r: Raft, m: Message): void {
  switch (m.type) {
    case "Append":
    case "Heartbeat":
    case "Snapshot":
      return r.send({ type: "AppendResp", to: m.from, term: r.term, reject: true, index: 0, conflictTerm: 0, conflictIndex: 0 });
    case "PreVote":
      return r.send({ type: "PreVoteResp", to: m.from, term: r.term, reject: true });
    case "Vote":
      return r.send({ type: "VoteResp", to: m.from, term: r.term, reject: true });
  }
}

function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case "AppendResp":
      return handleAppendResp(r, m);
    case "HeartbeatResp":
      return handleHeartbeatResp(r, m);
    case "Append":
    case "Heartbeat":
    case "Snapshot":
      // Two leaders in one term would break Election Safety (§5.2).
      throw new Error(`raft: ${r.id} is leader of term ${r.term} and got ${m.type} from ${m.from}`);
  }
}

function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case "Append":
    case "Heartbeat":
    case "Snapshot":
      r.electionElapsed = 0;
      r.leader = m.from;
      if (m.type === "Append") return handleAppend(r, m);
      if (m.type === "Heartbeat") return handleHeartbeat(r, m);
      return handleSnapshot(r, m);
    case "TimeoutNow":
      // Thesis §3.10: the leader chose us; skip pre-vote, we know it stepped aside.
      if (r.promotable()) return campaign(r, "real", true);
      return;
  }
}

function stepCandidate(r: Raft, m: Message): void {
  switch (m.type) {
    case "Append":
    case "Heartbeat":
    case "Snapshot":
      // §5.2: a leader of our term exists; recognise it.
      r.becomeFollower(m.term, m.from);
      return stepFollower(r, m);
    case "PreVoteResp":
      if (r.role === "precandidate") handleVoteResponse(r, m);
      return;
    case "VoteResp":
      if (r.role === "candidate") handleVoteResponse(r, m);
      return;
  }
}
