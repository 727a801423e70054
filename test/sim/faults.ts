// Phase-1 fault injection: each kind the seed enabled fires at random
// intervals around its mean. Partitions replace each other (isolate one
// node or the leader, split in two, one-way blocks, a "bridge" node that sees both sides,
// or heal); crashes restart later from storage; membership changes add a
// fresh node or remove a voter (possibly the leader); leadership transfers
// go to a random voter. Nodes whose removal committed may be shut down.
import type { Entry } from "../../core/raft/index.ts";
import { decodeConf } from "../../core/raft/index.ts";
import type { Rng } from "./prng.ts";
import type { Simulation } from "./sim.ts";

export class Faults {
  /** Voters of the highest committed conf entry seen so far. */
  committedVoters: string[];
  private committedConfIndex = 0;
  confChangesCommitted = 0;
  private nextNodeNumber: number;
  private readonly minVoters: number;
  private readonly maxVoters: number;

  constructor(
    private readonly sim: Simulation,
    private readonly rng: Rng,
    initialVoters: string[],
  ) {
    this.committedVoters = initialVoters.slice();
    this.nextNodeNumber = initialVoters.length + 1;
    this.minVoters = Math.max(1, sim.swarm.nodes - 2);
    this.maxVoters = sim.swarm.nodes + 2;
  }

  start(): void {
    const s = this.sim.swarm;
    const kinds: [string, number][] = [
      ["partition", s.partitionEvery],
      ["crash", s.crashEvery],
      ["conf", s.confChangeEvery],
      ["transfer", s.transferEvery],
    ];
    for (const [fault, every] of kinds) if (every > 0) this.reschedule(fault, every);
  }

  private reschedule(fault: string, every: number): void {
    this.sim.schedule({ time: this.sim.now + this.rng.int(Math.ceil(every / 2), Math.ceil((every * 3) / 2)), kind: "fault", fault });
  }

  fire(fault: string): void {
    if (this.sim.phase !== 1) return; // phase 2: no new faults
    const s = this.sim.swarm;
    if (fault.startsWith("retire:")) return this.retire(fault.slice("retire:".length));
    switch (fault) {
      case "partition":
        this.partition();
        return this.reschedule(fault, s.partitionEvery);
      case "crash":
        this.crash();
        return this.reschedule(fault, s.crashEvery);
      case "conf":
        this.confChange();
        return this.reschedule(fault, s.confChangeEvery);
      case "transfer":
        this.transfer();
        return this.reschedule(fault, s.transferEvery);
    }
  }

  private liveIds(): string[] {
    return [...this.sim.nodes.values()].filter((n) => !n.gone).map((n) => n.id);
  }

  private partition(): void {
    const net = this.sim.net;
    net.healPartitions();
    const ids = shuffle(this.liveIds(), this.rng);
    const kind = this.rng.int(0, 5);
    if (kind === 0 || ids.length < 2) return; // healed
    if (kind === 1) return net.split([ids[0]!], ids.slice(1)); // isolate one node
    if (kind === 5) {
      // Isolate the leader (Jepsen's favourite): clients may still reach it.
      const leader = this.sim.leaderId();
      if (leader !== undefined) net.split([leader], ids.filter((id) => id !== leader));
      return;
    }
    const cut = this.rng.int(1, ids.length - 1);
    const a = ids.slice(0, cut);
    const b = ids.slice(cut);
    if (kind === 2) return net.split(a, b);
    if (kind === 3) {
      // Asymmetric: b hears a, a does not hear b.
      for (const x of b) for (const y of a) net.block(x, y);
      return;
    }
    // Bridge: a[0] still talks to both sides, which cannot talk to each other.
    net.split(a.slice(1), b);
  }

  private crash(): void {
    const alive = [...this.sim.nodes.values()].filter((n) => n.alive);
    if (alive.length === 0) return;
    this.sim.crash(this.rng.pick(alive), this.sim.restartDelay());
  }

  private leader() {
    const id = this.sim.leaderId();
    const node = id === undefined ? undefined : this.sim.nodes.get(id);
    return node?.raft ? node : undefined;
  }

  private confChange(): void {
    const leader = this.leader();
    if (!leader) return;
    const voters = leader.raft!.status().voters;
    const add = voters.length < this.maxVoters && (voters.length <= this.minVoters || this.rng.chance(0.5));
    if (add) {
      const id = `n${this.nextNodeNumber++}`;
      this.sim.addNode(id, []); // joins empty; harmless if the change does not go through
      this.sim.withReady(leader, () => leader.raft!.proposeConfChange({ type: "add", node: id }));
    } else {
      const victim = this.rng.pick(voters);
      this.sim.withReady(leader, () => leader.raft!.proposeConfChange({ type: "remove", node: victim }));
    }
  }

  private transfer(): void {
    const leader = this.leader();
    if (!leader) return;
    const others = leader.raft!.status().voters.filter((v) => v !== leader.id);
    if (others.length === 0) return;
    const to = this.rng.pick(others);
    this.sim.withReady(leader, () => leader.raft!.transferLeadership(to));
  }

  /** Young leaders that will die at one of their next Readies' crash points (by id, with the incarnation). */
  private doomed = new Map<string, number>();

  /**
   * `id` just became leader: maybe doom it (Swarm.leaderInfantMortality):
   * it crashes at a driver crash point within its next few Readies, while
   * its first entries are on a minority. A third of the doomed are also cut
   * off at once, so those entries stay theirs alone; a third lose half the
   * messages they send, so their followers hold different prefixes.
   */
  onLeaderElected(id: string, incarnation: number): void {
    const s = this.sim.swarm;
    if (this.sim.phase !== 1 || s.leaderInfantMortality === 0 || !this.rng.chance(s.leaderInfantMortality)) return;
    this.doomed.set(id, incarnation);
    const how = this.rng.int(0, 2);
    if (how === 0) {
      // Cut off with a minority of the others: its entries reach only them.
      const others = shuffle(this.liveIds().filter((x) => x !== id), this.rng);
      const companions = others.slice(0, this.rng.int(0, Math.max(0, Math.ceil(others.length / 2) - 1)));
      this.sim.net.split([id, ...companions], others.filter((x) => !companions.includes(x)));
    }
    else if (how === 1) this.sim.net.setLossy(id, 0.5);
  }

  /** At a driver crash point of `id`: whether a doomed young leader dies here. */
  diesNow(id: string, incarnation: number): boolean {
    if (this.doomed.get(id) !== incarnation) return false;
    if (this.sim.phase !== 1) return (this.doomed.delete(id), false);
    if (!this.rng.chance(0.05)) return false;
    this.doomed.delete(id);
    this.sim.net.healPartitions();
    this.sim.net.setLossy(id, 0);
    return true;
  }

  /** A conf entry was applied somewhere; track the committed voter set and retire removed nodes. */
  onConfCommitted(e: Entry): void {
    if (e.index <= this.committedConfIndex) return;
    this.committedConfIndex = e.index;
    const voters = decodeConf(e).voters;
    if (e.index > 1) this.confChangesCommitted++;
    const removed = this.committedVoters.filter((v) => !voters.includes(v));
    this.committedVoters = voters;
    // Some removed nodes keep running (they must not disrupt), others are shut down.
    for (const id of removed) {
      if (this.sim.phase === 1 && this.rng.chance(0.5))
        this.sim.schedule({ time: this.sim.now + this.rng.int(0, 200), kind: "fault", fault: `retire:${id}` });
    }
  }

  private retire(id: string): void {
    const node = this.sim.nodes.get(id);
    if (!node || this.committedVoters.includes(id)) return;
    this.sim.crash(node, undefined);
    node.gone = true;
  }
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
