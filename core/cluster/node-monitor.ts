// The leader's watch over heartbeat samples (driven by Membership): each
// sample goes into the node's metrics history and through the threshold
// state machine; a transition becomes one SetNodeHealth command, so health
// changes are in the log (resumable on /v1/events, visible on every
// replica) while the samples themselves stay in memory.
//
// History and threshold timers live on the active leader only. A new leader
// starts with empty history and seeds each node's threshold state from the
// stored health, so it can still clear a warning its predecessor raised.
import type { Logger } from "../log.ts";
import type { Replicator } from "../state/replicator.ts";
import type { StateReader } from "../state/reader.ts";
import type { LiveSample } from "./protocol.ts";
import { probeSize } from "../debug-heap.ts";
import { MetricsHistory, type HistoryOptions, type MetricsPoint } from "../monitor/history.ts";
import { stepThreshold, type ThresholdOptions, type ThresholdState, type Transition } from "../monitor/thresholds.ts";

export interface NodeMonitorOptions {
  replicator: Replicator;
  state: StateReader;
  log: Logger;
  history: HistoryOptions;
  thresholds: ThresholdOptions;
  now?: () => number;
}

export class NodeMonitor {
  private readonly history: MetricsHistory;
  private trackers = new Map<string, ThresholdState>();
  private readonly now: () => number;

  constructor(private opts: NodeMonitorOptions) {
    this.history = new MetricsHistory(opts.history);
    probeSize("nodeMonitor.historyRings", () => this.history.size());
    probeSize("nodeMonitor.trackers", () => this.trackers.size);
    this.now = opts.now ?? Date.now;
  }

  /** A heartbeat's sample, on the leader. */
  observe(nodeId: string, sample: LiveSample): void {
    const now = this.now();
    this.history.add(nodeId, now, sample);
    const current = this.trackers.get(nodeId) ?? { health: this.opts.state.getNode(nodeId)?.health === "warning" ? "warning" : "passing" };
    const { state, transition } = stepThreshold(current, sample, now, this.opts.thresholds);
    this.trackers.set(nodeId, state);
    if (transition) void this.record(nodeId, transition, now);
  }

  points(nodeId: string, sinceMs: number): MetricsPoint[] {
    return this.history.points(nodeId, sinceMs, this.now());
  }

  settings(): { history: HistoryOptions; thresholds: ThresholdOptions } {
    return { history: this.opts.history, thresholds: this.opts.thresholds };
  }

  /** The node was marked down: its samples stopped, so its threshold timers start over when it returns. */
  nodeDown(nodeId: string): void {
    this.trackers.delete(nodeId);
  }

  /** Forget nodes that are no longer registered, and histories with nothing left to show. */
  retain(ids: ReadonlySet<string>): void {
    this.history.retain(ids, this.now());
    for (const id of this.trackers.keys()) if (!ids.has(id)) this.trackers.delete(id);
  }

  private async record(nodeId: string, t: Transition, at: number): Promise<void> {
    const name = this.opts.state.getNode(nodeId)?.name;
    try {
      const out = await this.opts.replicator.propose({ type: "SetNodeHealth", v: 1, at, nodeId, name, status: t.status, reason: t.reason });
      if (!out.result.ok) throw new Error(out.result.message);
      const fields = { node: name, id: nodeId, reason: t.reason };
      if (t.status === "warning") this.opts.log.warn("node health warning", fields);
      else this.opts.log.info("node health passing again", fields);
    } catch (err) {
      // Start this node's timers over from the stored health: the transition is tried again later.
      this.trackers.delete(nodeId);
      this.opts.log.warn("recording node health failed", { node: name, id: nodeId, err });
    }
  }
}

/** The monitor's settings from the [leader] table. */
export function nodeMonitorSettings(leader: {
  metricsRetentionMs: number; metricsResolutionMs: number; cpuWarningPercent: number; memoryWarningPercent: number; thresholdDurationMs: number;
}): Pick<NodeMonitorOptions, "history" | "thresholds"> {
  return {
    history: { retentionMs: leader.metricsRetentionMs, resolutionMs: leader.metricsResolutionMs },
    thresholds: { cpuPercent: leader.cpuWarningPercent, memoryPercent: leader.memoryWarningPercent, durationMs: leader.thresholdDurationMs },
  };
}
