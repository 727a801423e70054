// The agent side of membership: join a leader with the fingerprinted
// resources, then heartbeat with the latest live sample. Joins retry with
// capped exponential backoff; a leader that forgot us (404 UNKNOWN_NODE)
// gets a fresh join.
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
}

const MAX_BACKOFF_MS = 10_000;

export class AgentMember {
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;
  private joined = false;
  private failures = 0;
  private nodeId?: string;

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

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    try {
      if (!this.joined) await this.join();
      else await this.beat();
      this.failures = 0;
      this.schedule(this.opts.heartbeatMs);
    } catch (err) {
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

  private async join() {
    const reg = await this.opts.registration();
    const res = await this.opts.transport.join(reg);
    this.nodeId = reg.id;
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
    await this.opts.transport.heartbeat(req);
  }
}
