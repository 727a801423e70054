// Majority arithmetic over a voter set. Kept apart so the commit rule and
// the election rule visibly use the same definition of "quorum" (§5.2, §5.3).

/** Smallest number of voters that is a majority of `n`. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index stored on a majority of `voters`: sort the match indexes
 * descending and take the quorum-th one. A voter with no known match counts as 0.
 */
export function quorumMatchIndex(voters: readonly string[], matchOf: (id: string) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1]!;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Tally of votes from `voters` only: grants from non-voters do not count (§4.1). */
export function voteOutcome(voters: readonly string[], votes: ReadonlyMap<string, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return "won";
  if (rejected > voters.length - q) return "lost";
  return "pending";
}

/** Whether the ids in `active` that are voters form a majority. */
export function hasQuorum(voters: readonly string[], isActive: (id: string) => boolean): boolean {
  let n = 0;
  for (const v of voters) if (isActive(v)) n++;
  return n >= quorumSize(voters.length);
}
