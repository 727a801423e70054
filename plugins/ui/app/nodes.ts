// Shapes of the node and metrics API, and the per-node metrics poller
// behind the sparklines. Metrics history is kept by the leader in buckets of
// `resolutionMs` (leader.metrics_resolution, 10 s by default) and has no
// blocking index, so it is the one thing the page polls: once per bucket,
// per node shown, which is as fresh as the data can be.
import { api, enc, whenVisible } from "./api.ts";

export interface NodeInfo {
  id: string;
  name: string;
  address: string;
  datacenter: string;
  role: string;
  status: "ready" | "down";
  health: "passing" | "warning";
  healthReason: string;
  attributes: Record<string, string>;
  meta: Record<string, string>;
  resources: { cpuMhz: number; cores: number; memoryBytes: number; diskBytes: number };
  reserved: { cpuMhz: number; memoryBytes: number };
  statusChangedAt: number;
  lastHeartbeatAt: number | null;
  sample?: Sample | null;
}

export interface Sample {
  time: number;
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryAvailableBytes: number;
  load1: number;
}

export interface MetricPoint {
  time: number;
  samples: number;
  cpuPercentAvg: number;
  cpuPercentMax: number;
  memoryUsedBytesAvg: number;
  memoryUsedBytesMax: number;
  memoryAvailableBytesMin: number;
  load1Avg: number;
}

export interface NodeMetrics {
  nodeId: string;
  since: number;
  resolutionMs: number;
  retentionMs: number;
  health: { status: string; reason: string; changedAt: number };
  thresholds: { cpuPercent: number; memoryPercent: number; durationMs: number };
  latest: Sample | null;
  points: MetricPoint[];
}

/**
 * Polls a node's metrics history every bucket until `signal` aborts. The
 * first answer tells the resolution; at least 2 s apart whatever it says.
 */
export function pollMetrics(nodeId: string, since: () => string, onData: (m: NodeMetrics) => void, onError: (e: unknown) => void, signal: AbortSignal): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  const tick = async () => {
    await whenVisible(signal);
    if (signal.aborted) return;
    let next = 10_000;
    try {
      const a = await api<NodeMetrics>(`/v1/node/${enc(nodeId)}/metrics?since=${enc(since())}`, { signal });
      // No history yet (a node that just joined): look again soon rather than a whole bucket later.
      next = a.data.points.length < 2 ? 2_000 : Math.max(2_000, a.data.resolutionMs);
      onData(a.data);
    } catch (err) {
      if (signal.aborted) return;
      onError(err);
      next = 15_000;
    }
    if (!signal.aborted) timer = setTimeout(tick, next);
  };
  void tick();
}
