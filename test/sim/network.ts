// The simulated network: every message gets a random delay (so messages
// reorder), may be dropped or duplicated, and is lost if its link is blocked
// when it is sent or when it arrives. Blocks are directed, so a partition
// can be asymmetric. Messages are copied through JSON, as over HTTP.
import type { Message } from "../../core/raft/index.ts";
import type { Rng } from "./prng.ts";
import type { Swarm } from "./swarm.ts";

export class SimNetwork {
  private blocked = new Set<string>();
  /** Extra drop probability for messages from a node (a flaky sender, faults.ts). */
  private lossyFrom = new Map<string, number>();
  dropRate: number;
  dupRate: number;
  private minDelay: number;
  private maxDelay: number;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly rng: Rng,
    swarm: Swarm,
  ) {
    this.dropRate = swarm.dropRate;
    this.dupRate = swarm.dupRate;
    this.minDelay = swarm.minDelay;
    this.maxDelay = swarm.maxDelay;
  }

  /** Schedules delivery of `m` (zero, one or two copies). */
  send(now: number, m: Message, schedule: (time: number, m: Message) => void): void {
    this.sent++;
    if (this.isBlocked(m.from, m.to) || this.rng.chance(this.dropRate) || this.rng.chance(this.lossyFrom.get(m.from) ?? 0)) {
      this.dropped++;
      return;
    }
    const wire = JSON.stringify(m);
    schedule(now + this.rng.int(this.minDelay, this.maxDelay), JSON.parse(wire) as Message);
    if (this.rng.chance(this.dupRate)) schedule(now + this.rng.int(this.minDelay, this.maxDelay * 3), JSON.parse(wire) as Message);
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  block(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Symmetric partition between two groups. */
  split(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) if (x !== y) (this.block(x, y), this.block(y, x));
  }

  healPartitions(): void {
    this.blocked.clear();
  }

  /** Messages from `id` are lost with probability `p` (0: as the rest of the network). */
  setLossy(id: string, p: number): void {
    if (p > 0) this.lossyFrom.set(id, p);
    else this.lossyFrom.delete(id);
  }

  /** Phase 2: a reliable (but still delaying and reordering) network. */
  healAll(): void {
    this.blocked.clear();
    this.lossyFrom.clear();
    this.dropRate = 0;
    this.dupRate = 0;
  }

  describe(): string {
    return this.blocked.size === 0 ? "connected" : [...this.blocked].sort().join(",");
  }
}
