// The zod schema of corral.toml (snake_case keys, duration strings) producing
// the validated Config shape of ./types.ts (camelCase, milliseconds, bytes).
//
// Every key is optional; defaults live here and are mirrored, one comment
// each, in config.example.toml (a test keeps the two in step). Role rules
// (secret, agent leaders) are part of the schema because the role changes
// what a valid file is.
import os from "node:os";
import { isIP } from "node:net";
import { staticMetaSchema } from "../cluster/node-meta.ts";
import { hostVolumesSchema } from "./host-volumes.ts";
import { z } from "zod";
import { durationMs, formatDuration, sizeBytes } from "./duration.ts";
import { describeValue, isTable } from "./introspect.ts";
import { foldPluginAliases } from "./plugin-aliases.ts";
import { LEGACY_SIGNATURE_MODES, type LegacySignatures } from "../http/rpc-signature.ts";
import type {
  AgentConfig,
  ClusterConfig,
  Config,
  HttpConfig,
  LeaderConfig,
  LogFormat,
  LogLevel,
  RaftConfig,
  NodeConfig,
  TlsConfig,
  ConnectConfig,
  PluginsConfig,
  Role,
} from "./types.ts";

export type { Config, Role } from "./types.ts";

/** How a key's value is written, used to coerce environment variables. */
export type KeyKind = "string" | "int" | "bool" | "duration" | "list" | "size" | "enum" | "map";

/** Every key of the fixed tables (TOML spelling) and its kind. */
export const KEY_KINDS = {
  node: {
    name: "string",
    data_dir: "string",
    bind: "string",
    http_port: "int",
    advertise: "string",
    log_level: "enum",
    log_format: "enum",
    datacenter: "string",
    meta: "map",
    host_volumes: "map",
  },
  cluster: { secret: "string", legacy_signatures: "enum" },
  leader: {
    peers: "list",
    node_ttl: "duration",
    failover_heartbeat_ttl: "duration",
    election_timeout: "duration",
    heartbeat_interval: "duration",
    metrics_retention: "duration",
    metrics_resolution: "duration",
    cpu_warning_percent: "int",
    memory_warning_percent: "int",
    threshold_duration: "duration",
    scheduler_preemption: "bool",
    session_ttl_min: "duration",
    job_tracked_versions: "int",
    max_heartbeats_per_second: "int",
    max_joins_in_flight: "int",
    job_gc_interval: "duration",
    job_gc_threshold: "duration",
    eval_gc_threshold: "duration",
    deployment_gc_threshold: "duration",
    node_gc_threshold: "duration",
    tombstone_ttl: "duration",
  },
  raft: { sync: "enum", leader_fsync: "enum", snapshot_threshold: "int", join: "bool", max_message_bytes: "size", stream: "bool" },
  agent: { leaders: "list", heartbeat: "duration" },
  http: {
    max_body_bytes: "size", max_event_streams: "int", rate_limit_per_token: "int", rate_limit_per_address: "int", rate_limit_burst: "int",
    max_streams_per_token: "int", max_streams_per_address: "int", max_blocking_per_token: "int", max_blocking_per_address: "int",
    allowed_hosts: "list", allowed_origins: "list",
  },
  tls: { cert_file: "string", key_file: "string", ca_file: "string", verify_incoming: "bool", verify_outgoing: "bool" },
  connect: { ca_cert_file: "string", ca_key_file: "string" },
  plugins: { dir: "string", enabled: "list", watch: "bool" },
} as const satisfies Record<string, Record<string, KeyKind>>;

export type Section = keyof typeof KEY_KINDS;
export const SECTIONS = Object.keys(KEY_KINDS) as Section[];

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const satisfies readonly LogLevel[];
export const LOG_FORMATS = ["auto", "text", "json"] as const satisfies readonly LogFormat[];
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const PLUGIN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const MIN_SECRET_LENGTH = 16;
/** Buckets of metrics history kept per node (memory bound: about 100 bytes each). */
export const MAX_METRICS_BUCKETS = 100_000;

export const DEFAULTS = {
  dataDir: "./data",
  bind: "127.0.0.1",
  httpPort: 7700,
  advertise: "",
  logLevel: "info" as LogLevel,
  logFormat: "auto" as LogFormat,
  datacenter: "dc1",
  secret: "",
  legacySignatures: "off" as LegacySignatures,
  nodeTtlMs: 15_000,
  /** Nomad's failover_heartbeat_ttl: after a leader change every node has this long to reach the new leader. */
  failoverHeartbeatTtlMs: 300_000,
  /** Consul's session_ttl_min: the shortest session TTL a client may ask for. */
  sessionTtlMinMs: 10_000,
  /** Versions kept per job (job history, revert, auto_revert); Nomad keeps 6. */
  jobTrackedVersions: 10,
  /** Nomad's max_heartbeats_per_second is 50; corral's heartbeat path costs ~60 µs, so 1,000/s is ~6 % of a core. */
  maxHeartbeatsPerSecond: 1000,
  /**
   * Joins that write (new or down nodes) the Raft leader works on at once; the rest get 429 and a
   * Retry-After slot. 64 keeps a Raft batch full (a join burst then commits as fast as one at a time
   * would not) while the queue stays at the agents' side.
   */
  maxJoinsInFlight: 64,
  /** Garbage collection (Nomad's defaults): how often, and how long terminal rows are kept. */
  jobGcIntervalMs: 5 * 60_000,
  jobGcThresholdMs: 4 * 3_600_000,
  evalGcThresholdMs: 3_600_000,
  deploymentGcThresholdMs: 3_600_000,
  /** Nomad's node_gc_threshold: a node down this long, with nothing live on it, is removed. */
  nodeGcThresholdMs: 24 * 3_600_000,
  /** Consul's tombstone TTL (15 minutes): how long a deleted KV key's tombstone keeps prefix indexes moving. */
  tombstoneTtlMs: 15 * 60_000,
  electionTimeoutMs: 1000,
  heartbeatIntervalMs: 100,
  metricsRetentionMs: 3_600_000,
  metricsResolutionMs: 10_000,
  cpuWarningPercent: 90,
  memoryWarningPercent: 90,
  thresholdDurationMs: 60_000,
  schedulerPreemption: false,
  maxEventStreams: 64,
  rateLimitPerToken: 0,
  rateLimitPerAddress: 0,
  rateLimitBurst: 100,
  maxStreamsPerToken: 8,
  maxStreamsPerAddress: 32,
  maxBlockingPerToken: 64,
  maxBlockingPerAddress: 256,
  agentHeartbeatMs: 2000,
  raftSync: "full" as "full" | "normal",
  raftLeaderFsync: "parallel" as "parallel" | "inline",
  snapshotThreshold: 8192,
  raftJoin: false,
  maxMessageBytes: 64 * 1024 * 1024,
  raftStream: true,
  maxBodyBytes: 1_048_576,
  pluginsDir: "",
  watch: true,
} as const;

/** The host name, made into a valid node name (the default for node.name). */
export function defaultNodeName(hostname: string = os.hostname()): string {
  const cleaned = hostname
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 63);
  return NAME_RE.test(cleaned) ? cleaned : "corral";
}

/** The address others use to reach a node bound to `bind` when advertise is "". */
export function resolveAdvertise(bind: string, advertise: string): string {
  if (advertise !== "") return advertise;
  if (bind === "0.0.0.0" || bind === "::" || bind === "[::]" || bind === "") return "127.0.0.1";
  return bind;
}

// ---- field schemas ---------------------------------------------------------

const nameField = (what: string) =>
  z.string().refine((s) => NAME_RE.test(s), {
    error: (iss) =>
      `${what} must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit; got ${JSON.stringify(iss.input)}`,
  });

const nonEmpty = z.string().refine((s) => s.trim() !== "", { error: "must not be empty" });

/**
 * An address to bind: an IP literal, as the listeners need (a host name would
 * be resolved by the runtime at bind time, or fail only then).
 */
const ipAddress = z.string().refine((s) => isIP(s) !== 0, {
  error: (iss) => `must be an IP address such as "127.0.0.1", "0.0.0.0" or "::", got ${JSON.stringify(iss.input)}`,
});

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

function hostPortProblem(s: string): string | undefined {
  const m = HOST_PORT_RE.exec(s);
  if (!m) return `expected "host:port", got ${JSON.stringify(s)}`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port must be between 1 and 65535 in ${JSON.stringify(s)}`;
  return undefined;
}

/** http.allowed_hosts: a host name or address as clients write it in Host (a port is ignored), or "*". */
const allowedHost = z.string().refine((s) => s === "*" || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/.test(s), {
  error: (iss) => `expected a host name or address such as "corral.example.com" or "10.0.0.5" (or "*" for any), got ${JSON.stringify(iss.input)}`,
});

/** http.allowed_origins: a browser origin, "http(s)://host[:port]" with no path, or "*". */
const allowedOrigin = z.string().refine((s) => {
  if (s === "*") return true;
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.origin === s.replace(/\/$/, "").toLowerCase();
  } catch {
    return false;
  }
}, { error: (iss) => `expected an origin such as "https://dash.example.com" or "http://localhost:3000" (scheme, host, optional port; no path), or "*"; got ${JSON.stringify(iss.input)}` });

const hostPort = z.string().superRefine((s, ctx) => {
  const p = hostPortProblem(s);
  if (p) ctx.addIssue({ code: "custom", message: p });
});

/** "host:port" or an http(s) URL. */
const leaderAddress = z.string().superRefine((s, ctx) => {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let u: URL | undefined;
    try {
      u = new URL(s);
    } catch {
      /* reported below */
    }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "") {
      ctx.addIssue({ code: "custom", message: `expected "host:port" or "http(s)://host:port", got ${JSON.stringify(s)}` });
    }
    return;
  }
  const p = hostPortProblem(s);
  if (p) ctx.addIssue({ code: "custom", message: `${p.replace('"host:port"', '"host:port" or "http(s)://host:port"')}` });
});

/** An integer in [min, max]; strings are refused with a message that says so. */
export function intIn(min: number, max: number) {
  return z.unknown().transform((v, ctx): number => {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      ctx.addIssue({ code: "custom", message: `expected an integer, got ${describeValue(v)}` });
      return z.NEVER;
    }
    if (v < min || v > max) {
      ctx.addIssue({ code: "custom", message: `must be between ${min} and ${max}, got ${v}` });
      return z.NEVER;
    }
    return v;
  });
}

const port = intIn(1, 65535);

const pluginName = z.string().refine((s) => PLUGIN_NAME_RE.test(s), {
  error: (iss) => `not a valid plugin name: ${JSON.stringify(iss.input)}`,
});

// ---- the document ----------------------------------------------------------

export interface SchemaOptions {
  role: Role;
  /** Default for node.name (normally defaultNodeName()). */
  defaultName: string;
  /** Default for plugins.enabled. */
  builtinPlugins: readonly string[];
}

/** What the schema produces: Config without `file` and `role`, which the loader adds. */
export type ParsedConfig = Omit<Config, "file" | "role">;

export function buildConfigSchema(opts: SchemaOptions) {
  const { role } = opts;

  const node = z
    .strictObject({
      name: nameField("node name").default(opts.defaultName),
      data_dir: nonEmpty.default(DEFAULTS.dataDir),
      bind: ipAddress.default(DEFAULTS.bind),
      http_port: port.default(DEFAULTS.httpPort),
      advertise: z.string().default(DEFAULTS.advertise),
      log_level: z.enum(LOG_LEVELS).default(DEFAULTS.logLevel),
      log_format: z.enum(LOG_FORMATS).default(DEFAULTS.logFormat),
      datacenter: nameField("datacenter").default(DEFAULTS.datacenter),
      // Static node meta (core/cluster/node-meta.ts); dynamic meta applied at run time goes over it.
      meta: staticMetaSchema.default({}),
      // Host folders jobs may mount (core/config/host-volumes.ts); announced as node attributes.
      host_volumes: hostVolumesSchema.default({}),
    })
    .transform(
      (v): NodeConfig => ({
        name: v.name,
        dataDir: v.data_dir,
        bind: v.bind,
        httpPort: v.http_port,
        advertise: resolveAdvertise(v.bind, v.advertise),
        logLevel: v.log_level,
        logFormat: v.log_format,
        datacenter: v.datacenter,
        meta: v.meta,
        hostVolumes: v.host_volumes,
      }),
    );

  const cluster = z
    .strictObject({
      secret: z.string().default(DEFAULTS.secret),
      // Rolling upgrade from the release that signed RPC in the v1 format (core/http/rpc-signature.ts).
      legacy_signatures: z.enum(LEGACY_SIGNATURE_MODES).default(DEFAULTS.legacySignatures),
    })
    .superRefine((v, ctx) => {
      if (v.secret === "") {
        if (role === "dev") return;
        ctx.addIssue({
          code: "custom",
          path: ["secret"],
          message: `required for the ${role} role: set a shared secret of at least ${MIN_SECRET_LENGTH} characters (or CORRAL_CLUSTER_SECRET)`,
        });
      } else if (v.secret.length < MIN_SECRET_LENGTH) {
        ctx.addIssue({
          code: "custom",
          path: ["secret"],
          message: `must be at least ${MIN_SECRET_LENGTH} characters, got ${v.secret.length}`,
        });
      }
    })
    .transform((v): ClusterConfig => ({ secret: v.secret, legacySignatures: v.legacy_signatures }));

  const leader = z
    .strictObject({
      peers: z.array(hostPort).default([]),
      node_ttl: durationMs().default(DEFAULTS.nodeTtlMs),
      failover_heartbeat_ttl: durationMs({ min: 0, max: 86_400_000 }).default(DEFAULTS.failoverHeartbeatTtlMs),
      election_timeout: durationMs().default(DEFAULTS.electionTimeoutMs),
      heartbeat_interval: durationMs().default(DEFAULTS.heartbeatIntervalMs),
      metrics_retention: durationMs({ min: 1000, max: 30 * 86_400_000 }).default(DEFAULTS.metricsRetentionMs),
      metrics_resolution: durationMs({ min: 100, max: 86_400_000 }).default(DEFAULTS.metricsResolutionMs),
      cpu_warning_percent: intIn(0, 100).default(DEFAULTS.cpuWarningPercent),
      memory_warning_percent: intIn(0, 100).default(DEFAULTS.memoryWarningPercent),
      threshold_duration: durationMs({ min: 0, max: 86_400_000 }).default(DEFAULTS.thresholdDurationMs),
      scheduler_preemption: z.boolean().default(DEFAULTS.schedulerPreemption),
      session_ttl_min: durationMs({ min: 1, max: 86_400_000 }).default(DEFAULTS.sessionTtlMinMs),
      job_tracked_versions: intIn(1, 1000).default(DEFAULTS.jobTrackedVersions),
      max_heartbeats_per_second: intIn(1, 1_000_000).default(DEFAULTS.maxHeartbeatsPerSecond),
      max_joins_in_flight: intIn(1, 100_000).default(DEFAULTS.maxJoinsInFlight),
      job_gc_interval: durationMs({ min: 100, max: 7 * 86_400_000 }).default(DEFAULTS.jobGcIntervalMs),
      job_gc_threshold: durationMs({ min: 0, max: 365 * 86_400_000 }).default(DEFAULTS.jobGcThresholdMs),
      eval_gc_threshold: durationMs({ min: 0, max: 365 * 86_400_000 }).default(DEFAULTS.evalGcThresholdMs),
      deployment_gc_threshold: durationMs({ min: 0, max: 365 * 86_400_000 }).default(DEFAULTS.deploymentGcThresholdMs),
      node_gc_threshold: durationMs({ min: 0, max: 365 * 86_400_000 }).default(DEFAULTS.nodeGcThresholdMs),
      tombstone_ttl: durationMs({ min: 0, max: 365 * 86_400_000 }).default(DEFAULTS.tombstoneTtlMs),
    })
    .superRefine((v, ctx) => {
      if (v.heartbeat_interval >= v.election_timeout) {
        ctx.addIssue({
          code: "custom",
          path: ["heartbeat_interval"],
          message: `must be shorter than leader.election_timeout (${formatDuration(v.heartbeat_interval)} >= ${formatDuration(v.election_timeout)})`,
        });
      }
      if (v.metrics_resolution > v.metrics_retention) {
        ctx.addIssue({
          code: "custom",
          path: ["metrics_resolution"],
          message: `must not be longer than leader.metrics_retention (${formatDuration(v.metrics_resolution)} > ${formatDuration(v.metrics_retention)})`,
        });
      } else if (v.metrics_retention / v.metrics_resolution > MAX_METRICS_BUCKETS) {
        ctx.addIssue({
          code: "custom",
          path: ["metrics_retention"],
          message: `keeps ${Math.ceil(v.metrics_retention / v.metrics_resolution)} buckets per node at metrics_resolution ${v.metrics_resolution}ms; at most ${MAX_METRICS_BUCKETS} (raise metrics_resolution)`,
        });
      }
    })
    .transform(
      (v): LeaderConfig => ({
        peers: v.peers,
        nodeTtlMs: v.node_ttl,
        failoverHeartbeatTtlMs: v.failover_heartbeat_ttl,
        sessionTtlMinMs: v.session_ttl_min,
        jobTrackedVersions: v.job_tracked_versions,
        maxHeartbeatsPerSecond: v.max_heartbeats_per_second,
        maxJoinsInFlight: v.max_joins_in_flight,
        gc: { intervalMs: v.job_gc_interval, jobThresholdMs: v.job_gc_threshold, evalThresholdMs: v.eval_gc_threshold, deploymentThresholdMs: v.deployment_gc_threshold, nodeThresholdMs: v.node_gc_threshold, tombstoneTtlMs: v.tombstone_ttl },
        electionTimeoutMs: v.election_timeout,
        heartbeatIntervalMs: v.heartbeat_interval,
        metricsRetentionMs: v.metrics_retention,
        metricsResolutionMs: v.metrics_resolution,
        cpuWarningPercent: v.cpu_warning_percent,
        memoryWarningPercent: v.memory_warning_percent,
        thresholdDurationMs: v.threshold_duration,
        schedulerPreemption: v.scheduler_preemption,
      }),
    );

  const raft = z
    .strictObject({
      sync: z.enum(["full", "normal"]).default(DEFAULTS.raftSync),
      leader_fsync: z.enum(["parallel", "inline"]).default(DEFAULTS.raftLeaderFsync),
      snapshot_threshold: intIn(16, 10_000_000).default(DEFAULTS.snapshotThreshold),
      join: z.boolean().default(DEFAULTS.raftJoin),
      max_message_bytes: sizeBytes().default(DEFAULTS.maxMessageBytes),
      stream: z.boolean().default(DEFAULTS.raftStream),
    })
    .transform(
      (v): RaftConfig => ({
        sync: v.sync,
        leaderFsync: v.leader_fsync,
        snapshotThreshold: v.snapshot_threshold,
        join: v.join,
        maxMessageBytes: v.max_message_bytes,
        stream: v.stream,
      }),
    );

  const agent = z
    .strictObject({
      leaders: z.array(leaderAddress).default([]),
      heartbeat: durationMs().default(DEFAULTS.agentHeartbeatMs),
    })
    .superRefine((v, ctx) => {
      if (role === "agent" && v.leaders.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["leaders"],
          message: 'an agent needs at least one leader to join, e.g. leaders = ["10.0.0.1:7700"] (or CORRAL_AGENT_LEADERS)',
        });
      }
    })
    .transform((v): AgentConfig => ({ leaders: v.leaders, heartbeatMs: v.heartbeat }));

  const http = z
    .strictObject({
      max_body_bytes: sizeBytes().default(DEFAULTS.maxBodyBytes),
      max_event_streams: intIn(1, 100_000).default(DEFAULTS.maxEventStreams),
      rate_limit_per_token: intIn(0, 1_000_000).default(DEFAULTS.rateLimitPerToken),
      rate_limit_per_address: intIn(0, 1_000_000).default(DEFAULTS.rateLimitPerAddress),
      rate_limit_burst: intIn(1, 1_000_000).default(DEFAULTS.rateLimitBurst),
      max_streams_per_token: intIn(0, 100_000).default(DEFAULTS.maxStreamsPerToken),
      max_streams_per_address: intIn(0, 100_000).default(DEFAULTS.maxStreamsPerAddress),
      max_blocking_per_token: intIn(0, 1_000_000).default(DEFAULTS.maxBlockingPerToken),
      max_blocking_per_address: intIn(0, 1_000_000).default(DEFAULTS.maxBlockingPerAddress),
      allowed_hosts: z.array(allowedHost).max(1000).default([]),
      allowed_origins: z.array(allowedOrigin).max(1000).default([]),
    })
    .transform((v): HttpConfig => ({
      maxBodyBytes: v.max_body_bytes, maxEventStreams: v.max_event_streams,
      rateLimitPerToken: v.rate_limit_per_token, rateLimitPerAddress: v.rate_limit_per_address, rateLimitBurst: v.rate_limit_burst,
      maxStreamsPerToken: v.max_streams_per_token, maxStreamsPerAddress: v.max_streams_per_address,
      maxBlockingPerToken: v.max_blocking_per_token, maxBlockingPerAddress: v.max_blocking_per_address,
      allowedHosts: v.allowed_hosts, allowedOrigins: v.allowed_origins,
    }));

  const tls = z
    .strictObject({
      cert_file: z.string().default(""),
      key_file: z.string().default(""),
      ca_file: z.string().default(""),
      verify_incoming: z.boolean().default(false),
      verify_outgoing: z.boolean().default(true),
    })
    .superRefine((v, ctx) => {
      if ((v.cert_file === "") !== (v.key_file === "")) {
        ctx.addIssue({ code: "custom", path: [v.cert_file ? "key_file" : "cert_file"], message: "cert_file and key_file go together: set both, or neither" });
      }
      if (v.verify_incoming && (v.ca_file === "" || v.cert_file === "")) {
        ctx.addIssue({ code: "custom", path: ["verify_incoming"], message: "needs cert_file, key_file and ca_file (clients are checked against ca_file)" });
      }
    })
    .transform((v): TlsConfig => ({
      certFile: v.cert_file, keyFile: v.key_file, caFile: v.ca_file, verifyIncoming: v.verify_incoming, verifyOutgoing: v.verify_outgoing,
    }));

  // [connect]: the service mesh's CA (docs/mesh.md). Empty: the built-in CA.
  const connect = z
    .strictObject({ ca_cert_file: z.string().default(""), ca_key_file: z.string().default("") })
    .superRefine((v, ctx) => {
      if ((v.ca_cert_file === "") !== (v.ca_key_file === "")) {
        ctx.addIssue({ code: "custom", path: [v.ca_cert_file ? "ca_key_file" : "ca_cert_file"], message: "ca_cert_file and ca_key_file go together: set both, or neither" });
      }
    })
    .transform((v): ConnectConfig => ({ caCertFile: v.ca_cert_file, caKeyFile: v.ca_key_file }));

  /** The [plugins.<name>] tables of the [plugins] section as written. */
  const pluginTables = (v: Record<string, unknown>): Record<string, Record<string, unknown>> => {
    const tables: Record<string, Record<string, unknown>> = {};
    for (const [k, val] of Object.entries(v)) if (!(k in KEY_KINDS.plugins) && isTable(val)) tables[k] = val as Record<string, unknown>;
    return tables;
  };

  // [plugins] has three keys of its own; every other key must be a table
  // ([plugins.<name>]) and is kept raw in `settings`.
  const plugins = z
    .object({
      dir: z.string().default(DEFAULTS.pluginsDir),
      enabled: z.array(pluginName).default([...opts.builtinPlugins]),
      watch: z.boolean().default(DEFAULTS.watch),
    })
    .catchall(z.unknown())
    .superRefine((v, ctx) => {
      for (const [k, val] of Object.entries(v)) {
        if (k in KEY_KINDS.plugins) continue;
        if (!isTable(val)) ctx.addIssue({ code: "unrecognized_keys", keys: [k], path: [], input: v });
      }
      for (const message of foldPluginAliases(pluginTables(v)).conflicts) ctx.addIssue({ code: "custom", path: [], message });
    })
    .transform((v): PluginsConfig => {
      // [plugins.container] is [plugins.exec] container_* (plugin-aliases.ts).
      const { settings } = foldPluginAliases(pluginTables(v));
      return { dir: v.dir, enabled: [...new Set(v.enabled)], watch: v.watch, settings };
    });

  return z.strictObject({
    node: node.prefault({}),
    cluster: cluster.prefault({}),
    leader: leader.prefault({}),
    raft: raft.prefault({}),
    agent: agent.prefault({}),
    http: http.prefault({}),
    tls: tls.prefault({}),
    connect: connect.prefault({}),
    plugins: plugins.prefault({}),
  });
}

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;
