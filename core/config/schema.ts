// The zod schema of corral.toml (snake_case keys, duration strings) producing
// the validated Config shape of ./types.ts (camelCase, milliseconds, bytes).
//
// Every key is optional; defaults live here and are mirrored, one comment
// each, in config.example.toml (a test keeps the two in step). Role rules
// (secret, agent leaders) are part of the schema because the role changes
// what a valid file is.
import os from "node:os";
import { z } from "zod";
import { durationMs, sizeBytes } from "./duration.ts";
import type {
  AgentConfig,
  ClusterConfig,
  Config,
  HttpConfig,
  LeaderConfig,
  LogLevel,
  RaftConfig,
  NodeConfig,
  TlsConfig,
  PluginsConfig,
  Role,
} from "./types.ts";

export type { Config, Role } from "./types.ts";

/** How a key's value is written, used to coerce environment variables. */
export type KeyKind = "string" | "int" | "bool" | "duration" | "list" | "size" | "enum";

/** Every key of the fixed tables (TOML spelling) and its kind. */
export const KEY_KINDS = {
  node: {
    name: "string",
    data_dir: "string",
    bind: "string",
    http_port: "int",
    advertise: "string",
    log_level: "enum",
    datacenter: "string",
  },
  cluster: { secret: "string" },
  leader: {
    peers: "list",
    node_ttl: "duration",
    election_timeout: "duration",
    heartbeat_interval: "duration",
    metrics_retention: "duration",
    metrics_resolution: "duration",
    cpu_warning_percent: "int",
    memory_warning_percent: "int",
    threshold_duration: "duration",
    scheduler_preemption: "bool",
  },
  raft: { sync: "enum", snapshot_threshold: "int", join: "bool", max_message_bytes: "size" },
  agent: { leaders: "list", heartbeat: "duration" },
  http: { max_body_bytes: "size", max_event_streams: "int", rate_limit_per_token: "int", rate_limit_per_address: "int", rate_limit_burst: "int" },
  tls: { cert_file: "string", key_file: "string", ca_file: "string", verify_incoming: "bool", verify_outgoing: "bool" },
  plugins: { dir: "string", enabled: "list", watch: "bool" },
} as const satisfies Record<string, Record<string, KeyKind>>;

export type Section = keyof typeof KEY_KINDS;
export const SECTIONS = Object.keys(KEY_KINDS) as Section[];

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const satisfies readonly LogLevel[];
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
  datacenter: "dc1",
  secret: "",
  nodeTtlMs: 15_000,
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
  agentHeartbeatMs: 2000,
  raftSync: "full" as "full" | "normal",
  snapshotThreshold: 8192,
  raftJoin: false,
  maxMessageBytes: 64 * 1024 * 1024,
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

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

function hostPortProblem(s: string): string | undefined {
  const m = HOST_PORT_RE.exec(s);
  if (!m) return `expected "host:port", got ${JSON.stringify(s)}`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port must be between 1 and 65535 in ${JSON.stringify(s)}`;
  return undefined;
}

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
      bind: nonEmpty.default(DEFAULTS.bind),
      http_port: port.default(DEFAULTS.httpPort),
      advertise: z.string().default(DEFAULTS.advertise),
      log_level: z.enum(LOG_LEVELS).default(DEFAULTS.logLevel),
      datacenter: nameField("datacenter").default(DEFAULTS.datacenter),
    })
    .transform(
      (v): NodeConfig => ({
        name: v.name,
        dataDir: v.data_dir,
        bind: v.bind,
        httpPort: v.http_port,
        advertise: resolveAdvertise(v.bind, v.advertise),
        logLevel: v.log_level,
        datacenter: v.datacenter,
      }),
    );

  const cluster = z
    .strictObject({ secret: z.string().default(DEFAULTS.secret) })
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
    .transform((v): ClusterConfig => ({ secret: v.secret }));

  const leader = z
    .strictObject({
      peers: z.array(hostPort).default([]),
      node_ttl: durationMs().default(DEFAULTS.nodeTtlMs),
      election_timeout: durationMs().default(DEFAULTS.electionTimeoutMs),
      heartbeat_interval: durationMs().default(DEFAULTS.heartbeatIntervalMs),
      metrics_retention: durationMs({ min: 1000, max: 30 * 86_400_000 }).default(DEFAULTS.metricsRetentionMs),
      metrics_resolution: durationMs({ min: 100, max: 86_400_000 }).default(DEFAULTS.metricsResolutionMs),
      cpu_warning_percent: intIn(0, 100).default(DEFAULTS.cpuWarningPercent),
      memory_warning_percent: intIn(0, 100).default(DEFAULTS.memoryWarningPercent),
      threshold_duration: durationMs({ min: 0, max: 86_400_000 }).default(DEFAULTS.thresholdDurationMs),
      scheduler_preemption: z.boolean().default(DEFAULTS.schedulerPreemption),
    })
    .superRefine((v, ctx) => {
      if (v.heartbeat_interval >= v.election_timeout) {
        ctx.addIssue({
          code: "custom",
          path: ["heartbeat_interval"],
          message: `must be shorter than leader.election_timeout (${v.heartbeat_interval}ms >= ${v.election_timeout}ms)`,
        });
      }
      if (v.metrics_resolution > v.metrics_retention) {
        ctx.addIssue({
          code: "custom",
          path: ["metrics_resolution"],
          message: `must not be longer than leader.metrics_retention (${v.metrics_resolution}ms > ${v.metrics_retention}ms)`,
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
      snapshot_threshold: intIn(16, 10_000_000).default(DEFAULTS.snapshotThreshold),
      join: z.boolean().default(DEFAULTS.raftJoin),
      max_message_bytes: sizeBytes().default(DEFAULTS.maxMessageBytes),
    })
    .transform(
      (v): RaftConfig => ({
        sync: v.sync,
        snapshotThreshold: v.snapshot_threshold,
        join: v.join,
        maxMessageBytes: v.max_message_bytes,
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
    })
    .transform((v): HttpConfig => ({
      maxBodyBytes: v.max_body_bytes, maxEventStreams: v.max_event_streams,
      rateLimitPerToken: v.rate_limit_per_token, rateLimitPerAddress: v.rate_limit_per_address, rateLimitBurst: v.rate_limit_burst,
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
    })
    .transform((v): PluginsConfig => {
      const settings: Record<string, Record<string, unknown>> = {};
      for (const [k, val] of Object.entries(v)) {
        if (!(k in KEY_KINDS.plugins) && isTable(val)) settings[k] = val;
      }
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
    plugins: plugins.prefault({}),
  });
}

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;

// ---- helpers shared with the loader -----------------------------------------

/** "the string \"x\"", "the integer 5", "a table": how a bad value is named in errors. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "bigint") {
    return Number.isInteger(Number(v)) ? `the integer ${v}` : `the number ${v}`;
  }
  if (typeof v === "boolean") return `the boolean ${v}`;
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date-time";
  if (isTable(v)) return "a table";
  return `a ${typeof v}`;
}

export function isTable(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

interface AnyDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  getter?: () => z.ZodType;
}

function defOf(s: z.ZodType): AnyDef {
  return (s as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** Peel wrappers (default, optional, pipe/transform, lazy, ...) off a schema. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let guard = 0; guard < 64; guard++) {
    const d = defOf(s);
    if (d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else if (d.type === "lazy" && d.getter) s = d.getter();
    else break;
  }
  return s;
}

/** The object schema found by following `path` (keys and array indexes) from `schema`. */
export function objectSchemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s = unwrapSchema(schema);
  for (const seg of path) {
    const d = defOf(s);
    if (d.type === "object" && d.shape && typeof seg === "string" && seg in d.shape) s = unwrapSchema(d.shape[seg]!);
    else if (d.type === "array" && d.element && (typeof seg === "number" || /^\d+$/.test(String(seg)))) {
      s = unwrapSchema(d.element);
    } else return undefined;
  }
  return defOf(s).type === "object" ? s : undefined;
}

/** Keys an object schema at `path` knows, or [] when there is none. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const o = objectSchemaAt(schema, path);
  return o ? Object.keys(defOf(o).shape ?? {}) : [];
}

/**
 * Unknown keys in `value` that `schema` would silently strip (plain
 * `z.object`). Strict objects report their own; loose/catchall objects accept
 * anything. Used so that `[plugins.<name>]` typos are errors even when the
 * plugin's schema is not strict. Returns [path of parent, key] pairs.
 */
export function strippedKeys(
  schema: z.ZodType,
  value: unknown,
  path: PropertyKey[] = [],
  out: Array<[PropertyKey[], string]> = [],
): Array<[PropertyKey[], string]> {
  const s = unwrapSchema(schema);
  const d = defOf(s);
  if (d.type === "object" && d.shape && isTable(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k in d.shape) strippedKeys(d.shape[k]!, v, [...path, k], out);
      else if (d.catchall === undefined) out.push([path, k]);
    }
  } else if (d.type === "array" && d.element && Array.isArray(value)) {
    value.forEach((v, i) => strippedKeys(d.element!, v, [...path, i], out));
  }
  return out;
}

/** Levenshtein distance, small and plain. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within edit distance 2 (ignoring case and -/_ differences), if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = Math.min(editDistance(word, c), editDistance(norm(word), norm(c)));
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
