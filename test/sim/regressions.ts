// Seeds that once failed. Each stays a named test: it replays the scenario
// that exposed the bug (as of the commit that recorded it; after later
// changes to the simulator it remains a useful extra seed).
export interface Regression {
  seed: number;
  name: string;
  /** What went wrong and what fixed it. */
  why: string;
}

export const REGRESSIONS: Regression[] = [
  {
    seed: 79,
    name: "removed-but-uncommitted leader must still campaign",
    why:
      "A leader appended its own removal, lost leadership before replicating it, and was the only node " +
      "with an up-to-date log; as a non-voter of its latest config it never campaigned and the other voter " +
      "could not win without its vote. Fix: promotable() also while the latest config is uncommitted (thesis §4.1). " +
      "(First seen as seed 177 before the swarm gained preVote/checkQuorum variation.)",
  },
  {
    seed: 2003,
    name: "catching up a new voter under 1-entry appends and heavy reordering",
    why:
      "Empty Appends sent on every heartbeat answer overtook in-flight Appends, were refused, and threw the " +
      "follower back to probing; with maxEntriesPerAppend=1 the added voter never caught up within the " +
      "liveness bound. Fix: no empty Append while acks are awaited (lost ones are detected after two silent " +
      "heartbeat rounds), and the liveness bound now includes the catch-up time implied by flow control.",
  },
  {
    seed: 100141,
    name: "hopeless candidates must not starve the only viable one",
    why:
      "Without pre-vote and check-quorum, a removed node and a stale node kept sending higher-term vote " +
      "requests; every one reset the sole remaining voter's election timer, so it never campaigned. Fix: " +
      "stepping down for a vote request that is then rejected keeps the election timer running (Figure 2).",
  },
];
