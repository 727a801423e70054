// The agent side of membership: join a leader with the fingerprinted
// resources, then heartbeat with the latest live sample. Joins retry with
// capped exponential backoff; a leader that forgot us (404 UNKNOWN_NODE)
// gets a fresh join; a leader admitting a join burst at its own pace (429)
// is asked again when its Retry-After says, with jitter, for as long as it
// takes.
import type { Logger } from "../log.ts";
import type { HeartbeatRequest, JoinRequest, LiveSample } from "./protocol.ts";
import { RpcError, type LeaderTransport } from "./transport.ts";
import type { LegacySignatures } from "../http/rpc-signature.ts";
import { explainSignatureRefusal } from "../http/signature-refusal.ts";

export interface AgentMemberOptions {
  transport: LeaderTransport;
  registration: () => Promise<JoinRequest>;
  latestSample: () => LiveSample | undefined;
  heartbeatMs: number;
  log: Logger;
  /** cluster.legacy_signatures: what a 401 from the leader means depends on the format we sign. */
  legacy?: LegacySignatures;
  /** Called after each successful join (first start, or a leader that forgot us). */
  onJoined?: () => void;
  /** [0, 1): the jitter added to a leader's Retry-After (tests pin it). */
  random?: () => number;
}

const MAX_BACKOFF_MS = 10_000;
/** The longest interval an agent takes from a leader (1,000,000 nodes at 1,000 beats/s would ask 1,000 s). */
const MAX_ASKED_MS = 300_000;
/**
 * Spread added to a leader's Retry-After. The leader hands out whole seconds
 * (the header's unit), one slot per refused join at the rate it admits them:
 * the agents told the same second come back spread over that second, not
 * together at its start.
 */
const RETRY_AFTER_JITTER_MS = 1_000;

/** What this agent's joins met (the scale harness sums them: bench/scale.ts). */
export interface JoinStats {
  /** Join requests sent. */
  attempts: number;
  /** Answered 429 by a leader admitting joins at its own pace. */
  refused: number;
  /** No answer in time (the outcome unknown: the leader may still be working on it). */
  timedOut: number;
  /** Any other failure. */
  failed: number;
}

export class AgentMember {
  readonly joinStats: JoinStats = { attempts: 0, refused: 0, timedOut: 0, failed: 0 };
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private joined = false;
  private failures = 0;
  private nodeId?: string;
  /** The interval the leader last asked for: it lengthens as the cluster grows (core/cluster/heartbeat-rate.ts). */
  private askedMs = 0;
  /** Waiting for the turn a leader gave (429 + Retry-After): said once per wait, not per refusal. */
  private waitingTurn = false;

  constructor(private opts: AgentMemberOptions) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  isJoined(): boolean {
    return this.joined;
  }

  /** This agent's interval, or the leader's when longer (agent.heartbeat is a floor, as Nomad's clients take the server's TTL). */
  intervalMs(): number {
    return Math.max(this.opts.heartbeatMs, this.askedMs);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    try {
      if (!this.joined) await this.join();
      else await this.beat();
      this.failures = 0;
      this.waitingTurn = false;
      this.schedule(this.intervalMs());
    } catch (err) {
      if (!this.joined) this.countJoinFailure(err);
      if (err instanceof RpcError && err.status === 429) {
        this.schedule(this.turnWaitMs(err));
        return;
      }
      this.failures++;
      if (err instanceof RpcError && err.code === "UNKNOWN_NODE") this.joined = false;
      const backoff = Math.min(MAX_BACKOFF_MS, this.opts.heartbeatMs * 2 ** Math.min(this.failures - 1, 6));
      const fields = { leader: this.opts.transport.describe(), err, retryMs: backoff };
      if (err instanceof RpcError && err.status === 401) {
        // A different secret, clock, or (during an upgrade) signature format: say which.
        this.opts.log.error(explainSignatureRefusal(err.code, this.opts.legacy, "leader"), fields);
      } else if (this.failures === 1 || this.failures % 10 === 0) {
        this.opts.log.warn(this.joined ? "heartbeat failed" : "join failed", fields);
      }
      this.schedule(this.failures === 1 && this.joined ? Math.min(backoff, 500) : backoff);
    }
  }

  /**
   * A leader that is busy (a join burst: leader.max_joins_in_flight) said
   * when to come back. Not a failure: no exponential backoff, and never
   * given up. Waits at least what it said (bounded, as its heartbeat
   * interval is), plus jitter.
   */
  private turnWaitMs(err: RpcError): number {
    const said = Math.min(MAX_ASKED_MS, err.retryAfterMs ?? this.opts.heartbeatMs);
    const waitMs = Math.round(said + (this.opts.random ?? Math.random)() * RETRY_AFTER_JITTER_MS);
    if (!this.waitingTurn) {
      this.waitingTurn = true;
      this.opts.log.info(this.joined ? "leader busy; waiting the time it asked" : "leader busy admitting other joins; waiting for the turn it gave", {
        leader: this.opts.transport.describe(), code: err.code, retryMs: waitMs,
      });
    }
    return waitMs;
  }

  private countJoinFailure(err: unknown): void {
    if (err instanceof RpcError && err.status === 429) this.joinStats.refused++;
    else if (err instanceof RpcError && err.code === "TIMEOUT") this.joinStats.timedOut++;
    else this.joinStats.failed++;
  }

  private async join() {
    const reg = await this.opts.registration();
    this.joinStats.attempts++;
    const res = await this.opts.transport.join(reg);
    this.nodeId = reg.id;
    this.askedMs = askedInterval(res.heartbeatMs);
    this.joined = true;
    this.opts.log.info("joined cluster", { leader: this.opts.transport.describe(), nodeId: res.nodeId });
    this.opts.onJoined?.();
  }

  /**
   * Registers again now (this node's meta changed): the leaders' node row
   * has the change when this resolves. When no leader answers, the next
   * tick joins again with it.
   */
  async reregister(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.join();
    } catch (err) {
      this.joined = false;
      this.opts.log.warn("re-registration failed; retrying with the next heartbeat", { leader: this.opts.transport.describe(), err });
    }
  }

  private async beat() {
    const req: HeartbeatRequest = { id: this.nodeId!, sample: this.opts.latestSample() };
    const res = await this.opts.transport.heartbeat(req);
    this.askedMs = askedInterval(res.heartbeatMs);
  }
}

/** A leader's interval, bounded: a bad or hostile answer must not silence an agent for hours. */
function askedInterval(ms: unknown): number {
  return typeof ms === "number" && Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_ASKED_MS) : 0;
}
