// Wires monitoring into a node (called by core/node.ts): the core metrics on
// the node's registry, /metrics, /v1/events, /v1/node/{id}/metrics, and
// plugin state changes onto the event stream. Always on, whatever plugins
// are enabled (docs/monitoring.md says why these left the health plugin).
import type { Registry } from "prom-client";
import type { CoreApiDeps } from "../api/deps.ts";
import { metricsRoutes } from "../api/metrics.ts";
import { eventRoutes } from "../api/events.ts";
import { nodeMetricsRoutes } from "../api/node-metrics.ts";
import type { EventBus } from "../events.ts";
import type { NodeMonitor } from "../cluster/node-monitor.ts";
import type { EventHub } from "./event-hub.ts";
import { registerCoreMetrics, type MetricsSources, type RaftMetricsSource } from "./core-metrics.ts";

export interface MonitoringDeps {
  api: CoreApiDeps;
  registry: Registry;
  bus: EventBus;
  /** Leader-role nodes: the event stream over this node's log. */
  events?: EventHub;
  raft?: RaftMetricsSource;
  nodeMonitor?: NodeMonitor;
}

export interface Monitoring {
  /** The metric sources (exposed for tests). */
  sources: MetricsSources;
  close(): void;
}

export function setupMonitoring(deps: MonitoringDeps): Monitoring {
  const { api } = deps;
  const leaderRole = deps.raft !== undefined;
  const sources: MetricsSources = {
    version: api.version,
    runtime: api.runtime,
    plugins: () => api.plugins.list(),
    raft: deps.raft,
    eventStreams: deps.events ? () => deps.events!.size() : undefined,
    state: leaderRole ? api.state : undefined,
    latestSample: api.membership ? (id) => api.membership!.latestSample(id) : undefined,
    checkCounts: leaderRole ? cachedCounts(api.state) : undefined,
  };
  registerCoreMetrics(deps.registry, sources);
  metricsRoutes(api, deps.registry);
  eventRoutes(api, deps.events);
  nodeMetricsRoutes(api, deps.nodeMonitor);

  // Plugin state is node-local (not replicated): live on the stream, with no index, not resumable.
  const unsubscribe = deps.bus.subscribe("plugin.state", (p) => {
    const { name, state, error } = p as { name: string; state: string; error?: string };
    deps.events?.publishLocal({
      topic: "plugin", type: "PluginStateChanged", at: Date.now(),
      payload: { node: api.host.nodeName, nodeId: api.host.nodeId, name, state, ...(error ? { error } : {}) },
    });
  });

  return {
    sources,
    close() {
      unsubscribe();
      deps.events?.close();
    },
  };
}

/** countByStatus over the catalog, recounted only when checks (or nodes: serfHealth) changed: a scrape of a node with 10,000 checks reads none while they hold. */
function cachedCounts(state: CoreApiDeps["state"]) {
  let last: { index: string; counts: ReturnType<typeof countByStatus> } | undefined;
  return () => {
    const index = `${state.tableIndex("checks")},${state.tableIndex("nodes")},${state.tableIndex("catalog_nodes")}`;
    if (last?.index !== index) last = { index, counts: countByStatus(state.catalog.checksInState("any").value) };
    return last.counts;
  };
}

/** corral_checks{status}: every check of the catalog counted by status. */
function countByStatus(checks: { status: "passing" | "warning" | "critical" }[]) {
  const counts = { passing: 0, warning: 0, critical: 0 };
  for (const c of checks) counts[c.status]++;
  return counts;
}
