// Leader election (§5.2) with pre-vote (thesis §9.6) and the vote
// restrictions of §5.4.1.
import { voteOutcome } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import type { PreVoteMsg, PreVoteRespMsg, VoteMsg, VoteRespMsg } from "./types.ts";

/** Election timeout fired (or campaign() was called): start a (pre-)election. */
export function hup(r: Raft, transfer: boolean): void {
  if (r.role === "leader") return;
  if (!r.promotable()) {
    r.logger?.debug("raft: not a voter, not campaigning", { id: r.id });
    return;
  }
  campaign(r, r.cfg.preVote && !transfer ? "pre" : "real", transfer);
}

/**
 * A pre-vote round asks for votes in term+1 without incrementing our term, so
 * a node that cannot win (partitioned, stale log) never bumps the cluster's
 * term and deposes a working leader when it reconnects (thesis §9.6).
 */
export function campaign(r: Raft, kind: "pre" | "real", transfer: boolean): void {
  let voteTerm: number;
  if (kind === "pre") {
    r.becomePreCandidate();
    voteTerm = r.term + 1;
  } else {
    r.becomeCandidate(); // persists term+1 and the vote for ourselves (§5.2)
    voteTerm = r.term;
  }
  r.votes.set(r.id, true);
  if (voteOutcome(r.voters, r.votes) === "won") return won(r);
  const lastIndex = r.log.lastIndex();
  const lastTerm = r.log.lastTerm();
  for (const to of r.voters) {
    if (to === r.id) continue;
    if (kind === "pre") r.send({ type: "PreVote", to, term: voteTerm, lastIndex, lastTerm });
    else r.send({ type: "Vote", to, term: voteTerm, lastIndex, lastTerm, transfer });
  }
  r.logger?.debug(`raft: started ${kind === "pre" ? "pre-vote" : "election"}`, { id: r.id, term: voteTerm });
}

function won(r: Raft): void {
  if (r.role === "precandidate") campaign(r, "real", false);
  else r.becomeLeader();
}

/**
 * Grant a vote when (§5.2, §5.4.1) we have not voted for someone else in this
 * term, and the candidate's log is at least as up-to-date as ours. A pre-vote
 * is granted under the same log rule when its term is ahead of ours and we
 * have no live leader (thesis §9.6); it changes nothing in our state.
 */
export function handleVoteRequest(r: Raft, m: PreVoteMsg | VoteMsg): void {
  const upToDate = r.log.isUpToDate(m.lastIndex, m.lastTerm);
  if (m.type === "PreVote") {
    const grant = m.term > r.term && !r.inLease() && upToDate;
    r.send({ type: "PreVoteResp", to: m.from, term: grant ? m.term : r.term, reject: !grant });
    return;
  }
  // Here m.term === r.term: a higher term already made us a follower of it.
  const canVote = r.vote === m.from || (r.vote === null && r.leader === undefined);
  if (canVote && upToDate) {
    r.vote = m.from;
    r.electionElapsed = 0; // granting a vote resets our timer (Figure 2, followers)
    r.send({ type: "VoteResp", to: m.from, term: r.term, reject: false });
  } else {
    r.send({ type: "VoteResp", to: m.from, term: r.term, reject: true });
  }
}

export function handleVoteResponse(r: Raft, m: PreVoteRespMsg | VoteRespMsg): void {
  r.votes.set(m.from, !m.reject);
  const outcome = voteOutcome(r.voters, r.votes);
  if (outcome === "won") won(r);
  else if (outcome === "lost") r.becomeFollower(r.term, undefined);
}
