// The validated configuration, as the rest of corral sees it.
// Durations are given in TOML as Go-style strings ("500ms", "10s", "1m") and
// arrive here as milliseconds (keys ending in Ms). Sizes arrive as bytes.
// core/config/schema.ts is the zod schema that produces this shape; the
// defaults and one-line comments live in config.example.toml.

import type { LegacySignatures } from "../http/rpc-signature.ts";

export type Role = "dev" | "leader" | "agent";
export type LogLevel = "debug" | "info" | "warn" | "error";
/** "auto": readable text when stdout is a terminal, JSON lines otherwise. */
export type LogFormat = "auto" | "text" | "json";

export interface NodeConfig {
  /** Node name, unique in the cluster. Default: the host name. */
  name: string;
  /** Folder for the SQLite state, node id and plugin data. Default "./data". */
  dataDir: string;
  /** Address the HTTP API binds. Default "127.0.0.1". */
  bind: string;
  /** HTTP API port. Default 7700. */
  httpPort: number;
  /** Address other nodes use to reach this one. Default: bind (or 127.0.0.1 when bind is 0.0.0.0). */
  advertise: string;
  logLevel: LogLevel;
  /** How log lines are written. Default "auto". */
  logFormat: LogFormat;
  /** Datacenter name reported in the Consul-compatible API. Default "dc1". */
  datacenter: string;
  /** Static node meta ([node] meta); dynamic meta (corral node meta apply) goes over it. Default {}. */
  meta: Record<string, string>;
  /** [node.host_volumes.<name>]: host folders jobs may mount (path, read-only). Default {}. */
  hostVolumes: Record<string, { path: string; readOnly: boolean }>;
}

export interface ClusterConfig {
  /** Shared secret that peers and agents present. Required for leader and agent roles. */
  secret: string;
  /**
   * Rolling upgrade from the previous release's v1 RPC signatures: "send"
   * signs v1 and accepts v1 and v2, "accept" signs v2 and accepts both,
   * "off" (default) is v2 only.
   */
  legacySignatures: LegacySignatures;
}

export interface GcConfig {
  /** How often the leader collects. Default 5m. */
  intervalMs: number;
  /** A dead job unchanged for this long goes, with all it left. Default 4h. */
  jobThresholdMs: number;
  /** A finished evaluation or terminal allocation unchanged for this long goes. Default 1h. */
  evalThresholdMs: number;
  /** A finished deployment unchanged for this long goes. Default 1h. */
  deploymentThresholdMs: number;
  /** A node down for this long with no live allocation goes, with its catalog entries (Nomad's node_gc_threshold). 0: as soon as it is down. Default 24h. */
  nodeThresholdMs: number;
  /** A deleted KV key's tombstone older than this is reaped (Consul's tombstone TTL). 0: at every collection. Default 15m. */
  tombstoneTtlMs: number;
}

export interface LeaderConfig {
  /** Other leader-role nodes, "host:port". Empty: a single-leader cluster. */
  peers: string[];
  /** An agent with no heartbeat for this long is marked down. Default 15s. */
  nodeTtlMs: number;
  /**
   * After this node takes the lead (or starts), a node it has not heard from yet is not marked
   * down before this long: every agent must find the new leader, and at thousands of agents a
   * 15 s TTL would mark most of them down and reschedule their work (Nomad's failover_heartbeat_ttl). Default 5m.
   */
  failoverHeartbeatTtlMs: number;
  /** Agents' heartbeats per second the leader aims at: it lengthens every agent's interval as the cluster grows (core/cluster/heartbeat-rate.ts). */
  maxHeartbeatsPerSecond: number;
  /** Joins that write the Raft leader works on at once; beyond, 429 with Retry-After (core/cluster/join-admission.ts). */
  maxJoinsInFlight: number;
  /** Shortest session TTL a client may ask for (Consul's session_ttl_min). Default 10s. */
  sessionTtlMinMs: number;
  /** How many versions of each job are kept (Nomad's job_tracked_versions). Default 10. */
  jobTrackedVersions: number;
  /** Garbage collection of terminal jobs, evaluations, allocations, deployments (Nomad's job_gc_interval, job_gc_threshold 4h, eval_gc_threshold 1h, deployment_gc_threshold 1h). */
  gc: GcConfig;
  /** Raft election timeout. Default 1000ms. */
  electionTimeoutMs: number;
  /** Raft heartbeat interval. Default 100ms. */
  heartbeatIntervalMs: number;
  /** How long the leader keeps each node's heartbeat metrics history. Default 1h. */
  metricsRetentionMs: number;
  /** Bucket width of that history: samples are aggregated per bucket. Default 10s. */
  metricsResolutionMs: number;
  /** A node whose CPU stays above this percent for thresholdDurationMs gets health "warning"; 0 turns the check off. Default 90. */
  cpuWarningPercent: number;
  /** Same for memory in use (percent of used + available). Default 90. */
  memoryWarningPercent: number;
  /** How long a node must stay above (or back under) a threshold before its health changes. Default 60s. */
  thresholdDurationMs: number;
  /** The scheduler may evict lower-priority allocations when a job does not fit. Default false. */
  schedulerPreemption: boolean;
}

export interface RaftConfig {
  /**
   * "full": fsync every commit of the log (survives power loss of a majority).
   * "normal": fsync at WAL checkpoints only (survives process crashes; a power
   * loss may lose the newest entries a node acknowledged).
   */
  sync: "full" | "normal";
  /**
   * With sync "full", how a leader makes its new log entries durable.
   * "parallel": its commit is written unsynced and fdatasynced on the thread
   * pool while it steps its followers' acks; an entry counts as persisted
   * once that sync returned or a majority of followers acked it, whichever is
   * first (docs/raft.md, "A leader's own fsync"). "inline": fsynced inside
   * the commit, on the event loop, as followers do.
   */
  leaderFsync: "parallel" | "inline";
  /** Take a snapshot and compact the log once this many entries follow the last snapshot. */
  snapshotThreshold: number;
  /** Start without bootstrapping: wait to be added to an existing cluster (`corral operator raft add-peer`). */
  join: boolean;
  /** Largest peer message accepted (InstallSnapshot carries the whole state). */
  maxMessageBytes: number;
  /**
   * Raft messages to peers over long-lived streams (core/cluster/raft/stream-*.ts),
   * falling back to one signed request per batch while a stream is down or refused;
   * false: per-message requests only, and this node refuses streams.
   */
  stream: boolean;
}

export interface AgentConfig {
  /** Leader-role nodes to join, "host:port" or "http(s)://host:port". */
  leaders: string[];
  /** Heartbeat interval. Default 2s. */
  heartbeatMs: number;
}

export interface HttpConfig {
  /** Largest accepted request body. Default 1 MiB. */
  maxBodyBytes: number;
  /** Event streams (/v1/events) open at once on this node; more are refused with 429. Default 64. */
  maxEventStreams: number;
  /** Requests per second one ACL token may send to this node; 0 = no limit. Default 0. */
  rateLimitPerToken: number;
  /** Requests per second one client address may send to this node; 0 = no limit. Default 0. */
  rateLimitPerAddress: number;
  /** Requests a quiet token or address may send at once before the rate applies. Default 100. */
  rateLimitBurst: number;
  /** Endless responses (event streams, log follows) one token may hold open on this node; 0 = no limit. Default 8. */
  maxStreamsPerToken: number;
  /** The same per client address. Default 32. */
  maxStreamsPerAddress: number;
  /** Blocking queries (?index=) one token may have waiting on this node; 0 = no limit. Default 64. */
  maxBlockingPerToken: number;
  /** The same per client address. Default 256. */
  maxBlockingPerAddress: number;
  /** Host names clients may reach this node by, beyond its own (DNS rebinding protection); "*" = any. Default none. */
  allowedHosts: string[];
  /** Browser origins whose pages may send state-changing requests (beyond the node's own); "*" = any. Default none. */
  allowedOrigins: string[];
}

export interface TlsConfig {
  /** PEM certificate (chain) this node serves HTTPS with; "" = plain HTTP. */
  certFile: string;
  /** PEM private key of certFile. */
  keyFile: string;
  /** PEM CA bundle: verifies the leaders' certificates (outgoing) and clients' certificates (verifyIncoming). */
  caFile: string;
  /** Require every HTTPS client to present a certificate signed by caFile (mTLS). Default false. */
  verifyIncoming: boolean;
  /** Check the certificates of the nodes this one calls against caFile. Default true. */
  verifyOutgoing: boolean;
}

/** [connect]: the service mesh's CA (docs/mesh.md). */
export interface ConnectConfig {
  /** PEM certificate of an operator's own CA to sign mesh leaves with; "" = the built-in CA. */
  caCertFile: string;
  /** PEM (PKCS#8) ECDSA P-256 private key of caCertFile. */
  caKeyFile: string;
}

export interface PluginsConfig {
  /** Folder of external plugins (.ts/.js files or folders). "" disables external plugins. */
  dir: string;
  /** Plugins to enable at start. Default: every built-in plugin. */
  enabled: string[];
  /** Whether to watch `dir` and hot-reload changed external plugins. Default true. */
  watch: boolean;
  /** Raw `[plugins.<name>]` tables, validated by each plugin's own schema on enable. */
  settings: Record<string, Record<string, unknown>>;
}

export interface Config {
  /** The file this config came from, or undefined when built from defaults only. */
  file?: string;
  role: Role;
  node: NodeConfig;
  cluster: ClusterConfig;
  leader: LeaderConfig;
  raft: RaftConfig;
  agent: AgentConfig;
  http: HttpConfig;
  tls: TlsConfig;
  connect: ConnectConfig;
  plugins: PluginsConfig;
}
