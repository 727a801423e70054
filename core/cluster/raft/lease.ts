// The leader lease behind default-mode reads (docs/operations.md, "Reads and
// writes"). A follower that heard from its leader ignores vote requests for an
// election timeout (check-quorum, thesis §4.2.3; core/raft inLease), counted in
// its ticks. So once a quorum has answered a heartbeat round the leader sent at
// time T, no other leader can be elected before T plus the followers' election
// timeout, and until then this leader's applied state is the latest: it may
// answer reads from it without another round (thesis §6.4.1).
//
// Times are monotonic milliseconds (performance.now()), passed in by the
// driver, never tick counts: ticks stop while a process is paused (SIGSTOP, a
// VM stall), the monotonic clock does not. A leader paused past its lease
// resumes with an expired lease and confirms its leadership before answering,
// instead of serving values a newer leader has overwritten meanwhile.
//
// Pure: no clock, no timers, no I/O.

/**
 * The fraction of the lease given up to clock drift between nodes (clock rates
 * and timer lateness): the lease relies on the followers' clocks running no
 * more than this much faster than the leader's.
 */
export const LEASE_DRIFT_FRACTION = 0.1;

/**
 * How long a lease lasts. A follower resets its election timer on hearing the
 * leader and ignores votes until electionTicks ticks have passed; the first of
 * them may come right after the heartbeat, so it is bound for
 * (electionTicks - 1) tick intervals at least. Minus the drift allowance.
 */
export function leaseDurationMs(electionTicks: number, tickMs: number, drift = LEASE_DRIFT_FRACTION): number {
  return Math.max(0, (electionTicks - 1) * tickMs * (1 - drift));
}

export class LeaderLease {
  private term = -1;
  /** When the newest confirmed round was sent (monotonic ms). */
  private since = Number.NEGATIVE_INFINITY;
  /** The commit index that round confirmed: what a lease read must have applied. */
  private index = 0;
  private revokedTerm = -1;

  constructor(readonly durationMs: number) {}

  /**
   * A read-index round this leader began at `sentAt`, in `term`, was answered
   * by a quorum; `index` is the commit index it confirmed.
   */
  confirmed(term: number, sentAt: number, index: number): void {
    if (term === this.revokedTerm || term < this.term) return;
    if (term !== this.term) [this.term, this.since, this.index] = [term, sentAt, index];
    else if (sentAt > this.since) [this.since, this.index] = [sentAt, Math.max(this.index, index)];
  }

  /**
   * No lease for the rest of `term`: a leadership transfer makes followers
   * vote for the target in spite of their lease (thesis §3.10).
   */
  revoke(term: number): void {
    this.revokedTerm = term;
    if (this.term === term) this.since = Number.NEGATIVE_INFINITY;
  }

  /**
   * The index a read must see applied when the lease holds at `now` for a
   * leader of `term`; undefined when it does not (expired, another term,
   * revoked, never confirmed).
   */
  holds(term: number, now: number): number | undefined {
    if (term !== this.term || term === this.revokedTerm) return undefined;
    const age = now - this.since;
    return age >= 0 && age < this.durationMs ? this.index : undefined;
  }

  /** Past half its life: renew in the background, so steady readers rarely wait for a round. */
  wantsRenewal(now: number): boolean {
    return now - this.since >= this.durationMs / 2;
  }
}
