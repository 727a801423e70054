// Phase 2 of a seed: with every fault healed, a leader must be elected,
// commit a fresh entry, and every voter of the committed configuration must
// apply it, all within a bound derived from the seed's settings. A run that
// misses the bound fails with a description of each node.
import type { Simulation } from "./sim.ts";
import { TICK_UNITS } from "./swarm.ts";
import { kvSetCommand } from "./app.ts";

export class Liveness {
  /** Ticks phase 2 needed; -1 while not done. */
  ticksTaken = -1;
  private start_ = 0;
  private budgetTicks = 0;
  private marker: { node: string; index: number; term: number } | undefined;

  constructor(private readonly sim: Simulation) {}

  start(): void {
    this.start_ = this.sim.now;
    this.budgetTicks = this.sim.swarm.livenessTicks + this.catchUpTicks();
  }

  /**
   * Commit may need a lagging voter (say, one just added with an empty log)
   * to catch up first; the time that takes is bounded by the flow-control
   * settings: maxEntriesPerAppend * maxInflightAppends entries per round trip.
   * Allow twice that (reordering makes streaming fall back to probing).
   */
  private catchUpTicks(): number {
    const s = this.sim.swarm;
    const lasts = [...this.sim.nodes.values()].filter((n) => !n.gone).map((n) => n.raft?.status().lastIndex ?? 0);
    const lag = Math.max(...lasts) - Math.min(...lasts);
    const perRound = s.maxEntriesPerAppend * s.maxInflightAppends;
    const roundTicks = Math.ceil((2 * s.maxDelay) / TICK_UNITS) + s.heartbeatTicks;
    return 2 * Math.ceil(lag / perRound) * roundTicks;
  }

  /** Called every tick of phase 2: "pending", "done", or a failure message. */
  probe(): string {
    const sim = this.sim;
    if (sim.now - this.start_ > this.budgetTicks * TICK_UNITS)
      return `liveness: no commit within ${this.budgetTicks} ticks after healing; ${sim.describeNodes()}`;
    const leaderId = sim.leaderId();
    const leader = leaderId === undefined ? undefined : sim.nodes.get(leaderId);
    if (leader?.raft) {
      const raft = leader.raft;
      const term = raft.status().term;
      // One marker per leadership: a new leader proposes its own.
      if (!this.marker || this.marker.term !== term || this.marker.node !== leader.id) {
        const res = sim.withReady(leader, () => raft.propose(kvSetCommand("__live", term)));
        if (res.ok) this.marker = { node: leader.id, index: res.index, term: res.term };
      }
    }
    const m = this.marker;
    if (m && sim.checker.committed.get(m.index)?.term === m.term) {
      const lagging = sim.faults.committedVoters.filter((id) => (sim.nodes.get(id)?.app?.appliedIndex ?? -1) < m.index);
      if (lagging.length === 0) {
        this.ticksTaken = Math.round((sim.now - this.start_) / TICK_UNITS);
        return "done";
      }
    }
    return "pending";
  }
}
