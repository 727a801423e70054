// "Swarm testing" (TigerBeetle's VOPR): each seed picks its own mix of
// faults and parameters instead of every run using one fixed blend, so some
// seeds hammer partitions, others crashes or membership changes, and rare
// interleavings get a chance. All times are in simulator units; a node ticks
// about every TICK_UNITS.
import type { Rng } from "./prng.ts";

export const TICK_UNITS = 10;

export interface Swarm {
  nodes: number;
  electionTicks: number;
  heartbeatTicks: number;
  maxEntriesPerAppend: number;
  maxInflightAppends: number;
  /** Mostly on (the defaults); sometimes off, to exercise the paths they otherwise hide. */
  preVote: boolean;
  checkQuorum: boolean;
  /** Per-node tick period is TICK_UNITS * (1 ± drift). */
  clockDrift: number;
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  dupRate: number;
  /**
   * Peer streams (network.ts): each link carries messages in order over a
   * stream while one is up, losing it whole when it breaks, and falls back to
   * per-message delivery (dropRate, dupRate, reordering) while it is down.
   */
  streams: boolean;
  /** Probability, per message sent on a stream, that the stream breaks. */
  streamBreakRate: number;
  /** Mean units between fault actions of each kind; 0 disables the kind. */
  partitionEvery: number;
  crashEvery: number;
  confChangeEvery: number;
  transferEvery: number;
  restartAfter: [number, number];
  /**
   * Probability that a node which just became leader is crashed a round trip
   * or so later (phase 1). Leaders that die young leave entries of their
   * term on a minority, and the next leaders must cope with them: Figure 8
   * of the Raft paper, which plain random crashes almost never build.
   */
  leaderInfantMortality: number;
  /** Probability, at each of the driver's crash points (core/raft/driver.ts CRASH_POINTS), of crashing there. */
  crashInDriver: number;
  /** Take a snapshot when this many entries were applied since the last one; 0: never. */
  compactEvery: number;
  clients: number;
  /** Mean units between a client's operations. */
  clientThink: number;
  readRatio: number;
  casRatio: number;
  keys: number;
  /**
   * Leaders make their new entries durable through a deferred sync (the
   * driver's deferredSync, as real nodes with raft.leader_fsync = "parallel"),
   * each completing 0..syncDelay units after it started; 0: synced in place.
   */
  syncDelay: number;
  /** Length of the faulty phase. */
  phase1Ticks: number;
  /** Bound for the healed cluster to elect a leader and commit (liveness). */
  livenessTicks: number;
}

export function pickSwarm(rng: Rng): Swarm {
  const electionTicks = rng.pick([5, 10, 10, 20]);
  const maxDelay = rng.pick([1, 5, 10, 30]);
  return {
    nodes: rng.pick([3, 5]),
    electionTicks,
    heartbeatTicks: rng.pick([1, 1, 2]),
    maxEntriesPerAppend: rng.pick([1, 3, 64]),
    maxInflightAppends: rng.pick([1, 4, 64]),
    preVote: rng.next() < 0.8,
    checkQuorum: rng.next() < 0.8,
    clockDrift: rng.pick([0, 0.1, 0.3]),
    minDelay: 1,
    maxDelay,
    dropRate: rng.pick([0, 0, 0.01, 0.05, 0.2]),
    dupRate: rng.pick([0, 0.01, 0.05]),
    partitionEvery: rng.pick([0, 300, 1000]),
    crashEvery: rng.pick([0, 400, 1500]),
    confChangeEvery: rng.pick([0, 0, 400, 1000]),
    transferEvery: rng.pick([0, 0, 500]),
    restartAfter: rng.pick([[10, 100], [100, 1000]] as [number, number][]),
    crashInDriver: rng.pick([0, 0, 0.0005, 0.002]),
    leaderInfantMortality: rng.pick([0, 0, 0.5, 1]),
    compactEvery: rng.pick([0, 3, 10, 50, 50]),
    clients: rng.pick([1, 3, 5]),
    clientThink: rng.pick([5, 20, 60]),
    readRatio: rng.pick([0.2, 0.5]),
    casRatio: rng.pick([0.2, 0.4]),
    keys: rng.pick([1, 3]),
    phase1Ticks: rng.int(150, 400),
    livenessTicks: 60 * electionTicks,
    // Drawn last, so the other draws of a seed are the same as before streams existed.
    streams: rng.next() < 0.5,
    streamBreakRate: rng.pick([0.001, 0.01, 0.05]),
    // Drawn after those, so that a seed's other draws are as before it existed.
    syncDelay: rng.pick([0, 0, 1, 5, 20]),
  };
}

/** One line for logs and failure reports. */
export function describeSwarm(s: Swarm): string {
  const on = (name: string, v: number) => (v > 0 ? `${name}=${v}` : "");
  return [
    `n=${s.nodes} et=${s.electionTicks} hb=${s.heartbeatTicks}`,
    s.preVote ? "" : "no-prevote",
    s.checkQuorum ? "" : "no-checkquorum",
    `delay=${s.minDelay}-${s.maxDelay}`,
    on("drop", s.dropRate),
    on("dup", s.dupRate),
    s.streams ? `streams(break=${s.streamBreakRate})` : "",
    on("deferred-sync", s.syncDelay),
    on("partition", s.partitionEvery),
    on("crash", s.crashEvery),
    on("conf", s.confChangeEvery),
    on("transfer", s.transferEvery),
    on("compact", s.compactEvery),
    on("crash-in-driver", s.crashInDriver),
    on("leader-infant-mortality", s.leaderInfantMortality),
    `clients=${s.clients}`,
  ]
    .filter(Boolean)
    .join(" ");
}
