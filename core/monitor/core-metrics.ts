// The core's series on the node's prom-client Registry (served at /metrics
// whatever plugins are enabled): Raft, nodes and their latest samples,
// plugin states, build info, checks by status, and prom-client's default
// process metrics. Gauges read their sources in collect(), at scrape time,
// so nothing here runs between scrapes; series of nodes that went away
// disappear because each scrape rebuilds the per-node gauges from scratch.
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { LiveSample } from "../cluster/protocol.ts";
import type { PluginInfo } from "../plugins/host.ts";
import type { ReplicationStatus } from "../state/replicator.ts";
import type { StateReader } from "../state/reader.ts";

/** What a Raft replicator exposes to metrics (RaftReplicator fits). */
export interface RaftMetricsSource {
  status(): ReplicationStatus;
  raftStatus(): { voters: string[] };
  onLeadershipChange(fn: (isLeader: boolean, leader: string | undefined) => void): () => void;
  onApplyLatency(fn: (seconds: number) => void): () => void;
  /** Log writes committed with an fsync so far (see SqliteRaftStorage.fsyncs). */
  fsyncCount?(): number;
  leaderWritesDurable?(): { sync: number; followers: number };
}

export interface MetricsSources {
  version: string;
  runtime: string;
  plugins: () => PluginInfo[];
  /** Leader-role nodes only. */
  raft?: RaftMetricsSource;
  /** Replicated state (leader-role nodes): nodes by status and health. */
  state?: StateReader;
  /** Open event streams (leader-role nodes). */
  eventStreams?: () => number;
  /** The active leader's latest heartbeat sample of a node (Membership.latestSample). */
  latestSample?: (nodeId: string) => LiveSample | undefined;
  /**
   * Health checks by status for corral_checks. Not wired yet: the health
   * checks work sets it once the service catalog is committed. While unset,
   * corral_checks is declared but has no samples.
   */
  checkCounts?: () => Partial<Record<"passing" | "warning" | "critical", number>>;
}

/**
 * prom-client's default metrics include three gauges named *_total, which
 * Prometheus reserves for counters (`promtool check metrics` rejects them);
 * their labelled twins without the suffix carry the same numbers.
 */
const NON_CONFORMING_DEFAULTS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * Under Bun, node:v8's getHeapSpaceStatistics (these gauges' source) walks the whole JavaScript heap
 * (bun:jsc's heapStats): 35-50 ms per scrape on an agent's heap, during which the event loop serves nothing —
 * every proxied or mesh call in flight waits, at each Prometheus scrape. JavaScriptCore has no V8 heap spaces
 * anyway; nodejs_heap_size_* (process.memoryUsage(), microseconds) keep the heap's size and use.
 */
const HEAP_WALKING_DEFAULTS = ["nodejs_heap_space_size_total_bytes", "nodejs_heap_space_size_used_bytes", "nodejs_heap_space_size_available_bytes"];
const UNDER_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

export function registerCoreMetrics(registry: Registry, sources: MetricsSources): void {
  try {
    collectDefaultMetrics({ register: registry });
    for (const name of NON_CONFORMING_DEFAULTS) registry.removeSingleMetric(name);
    if (UNDER_BUN) for (const name of HEAP_WALKING_DEFAULTS) registry.removeSingleMetric(name);
  } catch {
    // A runtime without some Node API (perf_hooks, process.*) goes without process metrics, not without a node.
  }
  new Gauge({
    name: "corral_build_info", help: "Always 1; the labels say which corral and runtime run here",
    labelNames: ["version", "runtime"], registers: [registry],
  }).set({ version: sources.version, runtime: sources.runtime }, 1);
  registerPluginMetrics(registry, sources);
  const streams = sources.eventStreams;
  if (streams) {
    new Gauge({ name: "corral_event_streams", help: "Event streams (/v1/events) open on this node", registers: [registry], collect() { this.set(streams()); } });
  }
  registerCheckMetrics(registry, sources);
  if (sources.raft) registerRaftMetrics(registry, sources.raft);
  if (sources.state) registerNodeMetrics(registry, sources.state, sources.latestSample);
}

function registerRaftMetrics(registry: Registry, raft: RaftMetricsSource): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  gauge("corral_raft_term", "Current Raft term", () => raft.status().term);
  gauge("corral_raft_is_leader", "1 when this node is the Raft leader, else 0", () => (raft.status().isLeader ? 1 : 0));
  gauge("corral_raft_commit_index", "Highest log index known committed", () => raft.status().commitIndex);
  gauge("corral_raft_applied_index", "Highest log index applied to the state machine", () => raft.status().appliedIndex);
  gauge("corral_raft_peers", "Voters in the Raft configuration, this node included", () => raft.raftStatus().voters.length);
  const changes = new Counter({
    name: "corral_raft_leader_changes_total", help: "Times this node saw a new leader (itself included)", registers: [registry],
  });
  let last: string | undefined;
  raft.onLeadershipChange((_isLeader, leader) => {
    if (leader !== undefined && leader !== last) changes.inc();
    if (leader !== undefined) last = leader;
  });
  const apply = new Histogram({
    name: "corral_raft_apply_duration_seconds",
    help: "Time from propose to applied of entries proposed on this node while it led",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  raft.onApplyLatency((s) => apply.observe(s));
  const fsyncCount = raft.fsyncCount?.bind(raft);
  if (fsyncCount) {
    let seen = 0;
    new Counter({
      name: "corral_raft_fsyncs_total",
      help: "Raft log writes committed with an fsync (raft.sync = \"full\"): one per Ready carrying entries, a snapshot or a new term/vote; fewer than writes when proposals are group-committed",
      registers: [registry],
      collect() {
        const now = fsyncCount();
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  }
  const durable = raft.leaderWritesDurable?.bind(raft);
  if (durable) {
    const seen = { sync: 0, followers: 0 };
    new Counter({
      name: "corral_raft_leader_writes_durable_total",
      help: "A leader's log writes synced off the event loop (raft.leader_fsync = \"parallel\"), by what made them durable on a majority first: by=\"sync\" its own fsync, by=\"followers\" its followers' acks before it",
      labelNames: ["by"],
      registers: [registry],
      collect() {
        const now = durable();
        for (const by of ["sync", "followers"] as const) {
          if (now[by] > seen[by]) this.inc({ by }, now[by] - seen[by]);
          seen[by] = now[by];
        }
      },
    });
  }
}

function registerNodeMetrics(registry: Registry, state: StateReader, latestSample?: (id: string) => LiveSample | undefined): void {
  new Gauge({
    name: "corral_nodes", help: "Registered nodes by status (from this node's copy of the state)",
    labelNames: ["status"], registers: [registry],
    collect() {
      const counts: Record<string, number> = { ready: 0, down: 0 };
      for (const n of state.listNodes()) counts[n.status] = (counts[n.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: "corral_nodes_health", help: "Registered nodes by health from the leader's threshold checks",
    labelNames: ["health"], registers: [registry],
    collect() {
      const counts: Record<string, number> = { passing: 0, warning: 0 };
      for (const n of state.listNodes()) counts[n.health] = (counts[n.health] ?? 0) + 1;
      for (const [health, n] of Object.entries(counts)) this.set({ health }, n);
    },
  });
  if (!latestSample) return;
  const perNode = (name: string, help: string, read: (s: LiveSample) => number) =>
    new Gauge({
      name, help, labelNames: ["node"], registers: [registry],
      collect() {
        this.reset();
        for (const n of state.listNodes()) {
          const s = n.status === "ready" ? latestSample(n.id) : undefined;
          if (s) this.set({ node: n.name }, read(s));
        }
      },
    });
  perNode("corral_node_cpu_percent", "Latest heartbeat CPU busy percent of each ready node (on the active leader)", (s) => s.cpuPercent);
  perNode("corral_node_memory_used_bytes", "Latest heartbeat memory in use of each ready node (on the active leader)", (s) => s.memoryUsedBytes);
  perNode("corral_node_memory_available_bytes", "Latest heartbeat memory available of each ready node (on the active leader)", (s) => s.memoryAvailableBytes);
}

function registerPluginMetrics(registry: Registry, sources: MetricsSources): void {
  const states = ["enabled", "disabled", "failed"] as const;
  new Gauge({
    name: "corral_plugin_state", help: "1 for each plugin's current state (enabled, disabled, failed), 0 for the others",
    labelNames: ["plugin", "state"], registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.plugins()) for (const s of states) this.set({ plugin: p.name, state: s }, p.state === s ? 1 : 0);
    },
  });
}

function registerCheckMetrics(registry: Registry, sources: MetricsSources): void {
  new Gauge({
    name: "corral_checks", help: "Health checks by status",
    labelNames: ["status"], registers: [registry],
    collect() {
      this.reset();
      const counts = sources.checkCounts?.();
      if (!counts) return;
      for (const s of ["passing", "warning", "critical"] as const) this.set({ status: s }, counts[s] ?? 0);
    },
  });
}
