// The leader's view of agents: joins become RegisterNode commands, missed
// heartbeats become SetNodeStatus(down), a returning heartbeat becomes
// SetNodeStatus(ready). Live samples travel in heartbeats and stay in
// memory: they are fast, ephemeral data and do not belong in the log.
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { StateReader } from "../state/reader.ts";
import type { Replicator } from "../state/replicator.ts";
import type { EventBus } from "../events.ts";
import type { NodeRow } from "../store/schema.ts";
import type { HeartbeatRequest, HeartbeatResponse, JoinRequest, JoinResponse, LiveSample } from "./protocol.ts";
import type { NodeMonitor } from "./node-monitor.ts";
import { formatDuration } from "../config/duration.ts";
import { downAfterMs, heartbeatIntervalMs } from "./heartbeat-rate.ts";
import { probeSize } from "../debug-heap.ts";
import type { JoinAdmission } from "./join-admission.ts";
import { LogThrottle } from "../log-throttle.ts";

/** How often the leader says it is refusing joins (a 10,000-agent burst is one line per interval, not 10,000). */
const REFUSAL_LOG_EVERY_MS = 10_000;

export interface MembershipOptions {
  replicator: Replicator;
  state: StateReader;
  log: Logger;
  bus: EventBus;
  nodeTtlMs: number;
  /** After a takeover, how long a node not yet heard from is spared (leader.failover_heartbeat_ttl); 0: node_ttl alone. */
  failoverTtlMs?: number;
  /** Heartbeats per second from all agents together the leader aims at; longer intervals past it (heartbeat-rate.ts). */
  maxHeartbeatsPerSecond?: number;
  /** Metrics history and threshold checks on the samples (node-monitor.ts). */
  monitor?: NodeMonitor;
  /** leader.max_joins_in_flight: joins that write beyond it are told to come back (join-admission.ts). */
  admission?: JoinAdmission;
  now?: () => number;
}

export class Membership {
  private lastSeen = new Map<string, number>();
  /** The interval each node was last told: its silence is judged by it (a node told 30 s is not down at 15 s). */
  private told = new Map<string, number>();
  /** Registered nodes, as of the last sweep (the interval depends on it; counting per beat would cost a query). */
  private nodeCount = 0;
  private samples = new Map<string, LiveSample>();
  private sweeper?: ReturnType<typeof setInterval>;
  private sweeping = false;
  private readonly now: () => number;
  /** When this node last took the lead (or started), and until when nodes silent since are spared. */
  private tookOverAt = -Infinity;
  private failoverGraceUntil = -Infinity;

  constructor(private opts: MembershipOptions) {
    this.now = opts.now ?? Date.now;
    probeSize("membership.lastSeen", () => this.lastSeen.size);
    probeSize("membership.told", () => this.told.size);
    probeSize("membership.samples", () => this.samples.size);
  }

  /** Starts the down-detector. Every known node gets a full TTL of grace first. */
  start(): void {
    const t = this.now();
    this.graceFrom(t);
    for (const n of this.opts.state.listNodes()) this.lastSeen.set(n.id, t);
    this.nodeCount = this.opts.state.nodeStatuses().length;
    const every = Math.max(100, Math.min(1000, Math.floor(this.opts.nodeTtlMs / 4)));
    this.sweeper = setInterval(() => void this.sweep(), every);
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /**
   * A new leader has heard no heartbeats yet: give every node a full TTL of
   * grace, or a failover would mark the whole cluster down.
   */
  becameLeader(): void {
    const t = this.now();
    this.graceFrom(t);
    for (const n of this.opts.state.listNodes()) this.lastSeen.set(n.id, t);
  }

  /**
   * Nodes not heard from since t are not marked down before failoverTtlMs (Nomad's
   * failover_heartbeat_ttl, 5 minutes): after a takeover every agent must find the new leader,
   * and thousands of agents reaching a busy new leader take longer than one node_ttl. Marking
   * them down would reschedule their work and, as they come back, bring it all back again: a
   * 3-leader cluster at 5,000 agents marked 3,800 nodes down and ready again in two minutes.
   */
  private graceFrom(t: number): void {
    this.tookOverAt = t;
    this.failoverGraceUntil = t + (this.opts.failoverTtlMs ?? 0);
  }

  async join(req: JoinRequest): Promise<JoinResponse> {
    const existing = this.opts.state.getNode(req.id);
    const ready = existing?.status === "ready";
    // A node that is registered and ready is never refused: its rejoin
    // (an agent restart, a meta change) writes nothing or one small entry,
    // and while it waited it would not heartbeat, and could be marked down
    // with its workloads. A new or down node waits its turn.
    const ticket = ready ? undefined : this.opts.admission?.admit(req.id);
    if (ticket && !ticket.admitted) throw this.refused(ticket);
    try {
      this.lastSeen.set(req.id, this.now());
      let index = existing?.modifyIndex ?? 0;
      if (!existing || !ready || registrationChanged(existing, req)) {
        const out = await this.opts.replicator.propose({ type: "RegisterNode", v: 1, at: this.now(), node: req });
        if (!out.result.ok) throw new ApiError(409, out.result.code, out.result.message);
        index = out.index;
        this.opts.log.info(existing ? "node rejoined" : "node joined", { node: req.name, id: req.id });
      }
      return { nodeId: req.id, index, heartbeatMs: this.intervalFor(req.id) };
    } finally {
      ticket?.done();
    }
  }

  private refusals = new LogThrottle(REFUSAL_LOG_EVERY_MS);

  /** 429 with the join's slot in Retry-After; said in the log once per interval, with how many. */
  private refused(t: { retryAfterS: number; inFlight: number; backlog: number }): ApiError {
    const refused = this.refusals.note(this.now());
    if (refused !== undefined) {
      this.opts.log.info("join burst: joins beyond leader.max_joins_in_flight are told when to come back (429, Retry-After)", {
        refused, inFlight: t.inFlight, backlog: t.backlog, retryAfterS: t.retryAfterS,
      });
    }
    return new ApiError(429, "JOIN_BACKLOG", `the leader is admitting joins ${t.inFlight} at a time; come back in ${t.retryAfterS} s`, { "Retry-After": String(t.retryAfterS) });
  }

  /** The interval to ask of an agent now: it beats again within it, so it is judged by it from now on. */
  private intervalFor(nodeId: string): number {
    const ms = this.currentInterval();
    this.told.set(nodeId, ms);
    return ms;
  }

  private currentInterval(): number {
    return heartbeatIntervalMs(this.nodeCount, this.opts.maxHeartbeatsPerSecond ?? Infinity);
  }


  async heartbeat(req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const node = this.opts.state.nodeStatus(req.id);
    if (!node) throw new ApiError(404, "UNKNOWN_NODE", `node ${req.id} is not registered; join first`);
    this.lastSeen.set(req.id, this.now());
    const heartbeatMs = this.intervalFor(req.id);
    if (req.sample) {
      this.samples.set(req.id, req.sample);
      this.opts.monitor?.observe(req.id, req.sample);
      this.opts.bus.publish("node.sample", { nodeId: req.id, sample: req.sample });
    }
    if (node.status === "down") {
      await this.opts.replicator.propose({ type: "SetNodeStatus", v: 1, at: this.now(), nodeId: req.id, name: node.name, status: "ready", reason: "heartbeat resumed" });
      this.opts.log.info("node ready again", { node: node.name, id: req.id });
      return { ok: true, status: "ready", heartbeatMs };
    }
    return { ok: true, status: "ready", heartbeatMs };
  }

  latestSample(nodeId: string): LiveSample | undefined {
    return this.samples.get(nodeId);
  }

  lastHeartbeat(nodeId: string): number | undefined {
    return this.lastSeen.get(nodeId);
  }

  /** Marks nodes down whose last heartbeat is older than node_ttl. */
  async sweep(): Promise<void> {
    if (this.sweeping || !this.opts.replicator.status().isLeader) return;
    this.sweeping = true;
    try {
      const now = this.now();
      const listed = this.opts.state.nodeStatuses();
      this.nodeCount = listed.length;
      // A node this leader never answered (it took over) was told by the last one: assume today's interval.
      const fallbackMs = this.currentInterval();
      const ids = new Set(listed.map((n) => n.id));
      this.opts.monitor?.retain(ids);
      // Per-node state of nodes no longer registered goes with them (under churn, nodes come and go for good).
      for (const m of [this.told, this.lastSeen, this.samples]) for (const id of m.keys()) if (!ids.has(id)) m.delete(id);
      for (const n of listed) {
        if (n.status !== "ready") continue;
        const seen = this.lastSeen.get(n.id);
        if (seen === undefined) {
          this.lastSeen.set(n.id, now);
          continue;
        }
        // Not heard from since the takeover, within the failover grace: it may still be finding us.
        if (seen <= this.tookOverAt && now < this.failoverGraceUntil) continue;
        if (now - seen > downAfterMs(this.opts.nodeTtlMs, this.told.get(n.id) ?? fallbackMs)) {
          await this.opts.replicator.propose({
            type: "SetNodeStatus", v: 1, at: now, nodeId: n.id, name: n.name, status: "down",
            reason: `no heartbeat for ${formatDuration(now - seen)}`,
          });
          this.samples.delete(n.id);
          this.opts.monitor?.nodeDown(n.id);
          this.opts.log.warn("node down", { node: n.name, id: n.id, silentMs: now - seen });
        }
      }
    } catch (err) {
      this.opts.log.warn("node sweep failed", { err });
    } finally {
      this.sweeping = false;
    }
  }
}

function registrationChanged(row: NodeRow, req: JoinRequest): boolean {
  return (
    row.name !== req.name ||
    row.address !== req.address ||
    row.datacenter !== req.datacenter ||
    JSON.stringify(row.resources) !== JSON.stringify(req.resources) ||
    JSON.stringify(row.reserved) !== JSON.stringify(req.reserved) ||
    JSON.stringify(row.attributes) !== JSON.stringify(req.attributes) ||
    JSON.stringify(row.meta) !== JSON.stringify(req.meta)
  );
}
