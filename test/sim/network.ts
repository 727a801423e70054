// The simulated network: every message gets a random delay (so messages
// reorder), may be dropped or duplicated, and is lost if its link is blocked
// when it is sent or when it arrives. Blocks are directed, so a partition
// can be asymmetric. Messages are copied through JSON, as over HTTP.
//
// Streams (the real transport's long-lived peer connections,
// core/cluster/raft/stream-*.ts): when the seed turns them on, each directed
// link carries its messages over a stream while one is up. A stream keeps
// order (a message is never delivered before one sent earlier on it), never
// duplicates and never drops one message alone: it is lost whole, with
// everything in flight on it, when it breaks (at random, or when its link
// is blocked). A broken stream is re-established after a delay; meanwhile
// the link falls back to per-message requests (today's faults: reordering,
// drops, duplicates), as the real transport does.
import type { Message } from "../../core/raft/index.ts";
import type { Rng } from "./prng.ts";
import type { Swarm } from "./swarm.ts";

interface StreamLink {
  /** Bumped when the stream breaks: messages sent on an older epoch are lost. */
  epoch: number;
  up: boolean;
  /** Down: when the next stream may be established. */
  reconnectAt: number;
  /** Delivery time of the last message sent on this stream (FIFO). */
  lastDelivery: number;
}

export class SimNetwork {
  private blocked = new Set<string>();
  /** Extra drop probability for messages from a node (a flaky sender, faults.ts). */
  private lossyFrom = new Map<string, number>();
  dropRate: number;
  dupRate: number;
  /** Probability, per message sent on a stream, that the stream breaks first. */
  streamBreakRate: number;
  private readonly streams: boolean;
  private readonly reconnectDelay: [number, number];
  private links = new Map<string, StreamLink>();
  /** The stream and epoch each in-flight copy was sent on (per-message copies are absent). */
  private onStream = new WeakMap<Message, { link: StreamLink; epoch: number }>();
  private minDelay: number;
  private maxDelay: number;
  sent = 0;
  dropped = 0;
  streamBreaks = 0;

  constructor(
    private readonly rng: Rng,
    swarm: Swarm,
  ) {
    this.dropRate = swarm.dropRate;
    this.dupRate = swarm.dupRate;
    this.minDelay = swarm.minDelay;
    this.maxDelay = swarm.maxDelay;
    this.streams = swarm.streams;
    this.streamBreakRate = swarm.streamBreakRate;
    this.reconnectDelay = [swarm.minDelay, Math.max(swarm.minDelay, swarm.maxDelay * 10)];
  }

  /** Schedules delivery of `m` (zero, one or two copies). */
  send(now: number, m: Message, schedule: (time: number, m: Message) => void): void {
    this.sent++;
    const key = `${m.from}>${m.to}`;
    if (this.blocked.has(key)) {
      this.dropped++;
      return;
    }
    const link = this.streams ? this.streamOf(key, now) : undefined;
    if (link) {
      const copy = JSON.parse(JSON.stringify(m)) as Message;
      const at = Math.max(link.lastDelivery, now + this.rng.int(this.minDelay, this.maxDelay));
      link.lastDelivery = at;
      this.onStream.set(copy, { link, epoch: link.epoch });
      schedule(at, copy);
      return;
    }
    if (this.rng.chance(this.dropRate) || this.rng.chance(this.lossyFrom.get(m.from) ?? 0)) {
      this.dropped++;
      return;
    }
    const wire = JSON.stringify(m);
    schedule(now + this.rng.int(this.minDelay, this.maxDelay), JSON.parse(wire) as Message);
    if (this.rng.chance(this.dupRate)) schedule(now + this.rng.int(this.minDelay, this.maxDelay * 3), JSON.parse(wire) as Message);
  }

  /** Whether a scheduled copy still arrives: its link is not blocked and the stream it rode did not break since. */
  arrives(m: Message): boolean {
    if (this.isBlocked(m.from, m.to)) return false;
    const s = this.onStream.get(m);
    if (s && s.link.epoch !== s.epoch) {
      this.dropped++;
      return false;
    }
    return true;
  }

  /**
   * The stream a message to `key` rides now, or undefined (per-message
   * fallback). A flaky sender (setLossy) loses its streams often.
   */
  private streamOf(key: string, now: number): StreamLink | undefined {
    let link = this.links.get(key);
    if (!link) this.links.set(key, (link = { epoch: 0, up: true, reconnectAt: 0, lastDelivery: 0 }));
    if (!link.up && now >= link.reconnectAt) link.up = true;
    if (!link.up) return undefined;
    const from = key.slice(0, key.indexOf(">"));
    if (this.rng.chance(this.streamBreakRate) || this.rng.chance((this.lossyFrom.get(from) ?? 0) / 4)) {
      this.breakStream(link, now);
      return undefined;
    }
    return link;
  }

  private breakStream(link: StreamLink, now: number): void {
    if (!link.up) return;
    link.up = false;
    link.epoch++;
    link.reconnectAt = now + this.rng.int(this.reconnectDelay[0], this.reconnectDelay[1]);
    this.streamBreaks++;
  }

  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  block(from: string, to: string): void {
    const key = `${from}>${to}`;
    this.blocked.add(key);
    // A blocked link's stream times out: whatever was in flight on it is lost.
    const link = this.links.get(key);
    if (link?.up) {
      link.up = false;
      link.epoch++;
      link.reconnectAt = 0;
      this.streamBreaks++;
    }
  }

  /** A node crashed: its streams, both ways, are gone with the process's sockets. */
  dropStreamsOf(id: string): void {
    for (const [key, link] of this.links) {
      const [from, to] = key.split(">");
      if ((from === id || to === id) && link.up) {
        link.up = false;
        link.epoch++;
        link.reconnectAt = 0;
        this.streamBreaks++;
      }
    }
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
    this.streamBreakRate = 0;
  }

  describe(): string {
    return this.blocked.size === 0 ? "connected" : [...this.blocked].sort().join(",");
  }
}
