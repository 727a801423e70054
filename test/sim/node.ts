// One simulated server: a RaftNode, its "disk" (MemoryStorage, the only
// thing that survives a crash) and its application (KvApp, rebuilt on
// restart from the stored snapshot plus log replay driven by raft).
import { MemoryStorage, RaftNode } from "../../core/raft/index.ts";
import { KvApp } from "./kv.ts";
import type { Rng } from "./prng.ts";
import { TICK_UNITS, type Swarm } from "./swarm.ts";

export class SimNode {
  readonly storage = new MemoryStorage();
  raft: RaftNode | undefined;
  kv: KvApp | undefined;
  /** Bumped on every crash so that events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** Permanently shut down (removed from the cluster). */
  gone = false;
  readonly tickUnits: number;
  crashes = 0;

  constructor(
    readonly id: string,
    /** Bootstrap voters, or [] for a node that joins later. */
    readonly peers: string[],
    private readonly rng: Rng,
    private readonly swarm: Swarm,
  ) {
    const drift = swarm.clockDrift * (2 * rng.next() - 1);
    this.tickUnits = Math.max(1, Math.round(TICK_UNITS * (1 + drift)));
  }

  get alive(): boolean {
    return this.raft !== undefined;
  }

  start(): void {
    this.raft = new RaftNode({
      id: this.id,
      peers: this.peers,
      electionTicks: this.swarm.electionTicks,
      heartbeatTicks: this.swarm.heartbeatTicks,
      maxEntriesPerAppend: this.swarm.maxEntriesPerAppend,
      maxInflightAppends: this.swarm.maxInflightAppends,
      preVote: this.swarm.preVote,
      checkQuorum: this.swarm.checkQuorum,
      rng: this.rng.fork().next,
      restore: this.storage.load(),
    });
    this.kv = KvApp.fromSnapshot(this.storage.snapshot());
  }

  crash(): void {
    this.raft = undefined;
    this.kv = undefined;
    this.incarnation++;
    this.crashes++;
  }
}
