import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { ConfigError, loadConfig, type LoadOptions } from "../../core/config/load.ts";
import { durationMs } from "../../core/config/duration.ts";
import type { Config } from "../../core/config/types.ts";

const BUILTINS = ["probe", "discovery", "dns"];
const SECRET = "0123456789abcdef-secret";

function load(text: string, extra: Partial<LoadOptions> = {}): Config {
  return loadConfig({
    role: "dev",
    file: "corral.toml",
    text,
    env: {},
    builtinPlugins: BUILTINS,
    defaultName: "testhost",
    ...extra,
  });
}

function fail(text: string, extra: Partial<LoadOptions> = {}): ConfigError {
  try {
    load(text, extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("an empty file gives every default", () => {
    const c = load("");
    expect(c).toEqual({
      file: "corral.toml",
      role: "dev",
      node: {
        name: "testhost",
        dataDir: "./data",
        bind: "127.0.0.1",
        httpPort: 7700,
        advertise: "127.0.0.1",
        logLevel: "info",
        logFormat: "auto",
        datacenter: "dc1",
        meta: {},
        hostVolumes: {},
      },
      cluster: { secret: "", legacySignatures: "off" },
      leader: {
        peers: [], nodeTtlMs: 15000, failoverHeartbeatTtlMs: 300_000, electionTimeoutMs: 1000, heartbeatIntervalMs: 100,
        metricsRetentionMs: 3_600_000, metricsResolutionMs: 10_000, cpuWarningPercent: 90, memoryWarningPercent: 90, thresholdDurationMs: 60_000, schedulerPreemption: false,
        sessionTtlMinMs: 10_000, jobTrackedVersions: 10, maxHeartbeatsPerSecond: 1000, maxJoinsInFlight: 64,
        gc: { intervalMs: 300_000, jobThresholdMs: 14_400_000, evalThresholdMs: 3_600_000, deploymentThresholdMs: 3_600_000, nodeThresholdMs: 86_400_000, tombstoneTtlMs: 900_000 },
      },
      raft: { sync: "full", leaderFsync: "parallel", snapshotThreshold: 8192, join: false, maxMessageBytes: 64 * 1024 * 1024, stream: true },
      agent: { leaders: [], heartbeatMs: 2000 },
      http: { maxBodyBytes: 1048576, maxEventStreams: 64, rateLimitPerToken: 0, rateLimitPerAddress: 0, rateLimitBurst: 100,
        maxStreamsPerToken: 8, maxStreamsPerAddress: 32, maxBlockingPerToken: 64, maxBlockingPerAddress: 256,
        allowedHosts: [], allowedOrigins: [],
      },
      tls: { certFile: "", keyFile: "", caFile: "", verifyIncoming: false, verifyOutgoing: true },
      connect: { caCertFile: "", caKeyFile: "" },
      plugins: { dir: "", enabled: BUILTINS, watch: true, settings: {} },
    });
  });

  test("no file and no text: defaults, no file recorded", () => {
    const c = loadConfig({ role: "dev", env: {}, builtinPlugins: [] });
    expect(c.file).toBeUndefined();
    expect(c.node.name.length).toBeGreaterThan(0); // host name
    expect(c.plugins.enabled).toEqual([]);
  });

  test("advertise resolution", () => {
    expect(load('[node]\nbind = "0.0.0.0"').node.advertise).toBe("127.0.0.1");
    expect(load('[node]\nbind = "::"').node.advertise).toBe("127.0.0.1");
    expect(load('[node]\nbind = "10.1.2.3"').node.advertise).toBe("10.1.2.3");
    expect(load('[node]\nbind = "0.0.0.0"\nadvertise = "10.9.9.9"').node.advertise).toBe("10.9.9.9");
  });

  test("durations and sizes convert to milliseconds and bytes", () => {
    const c = load(
      '[leader]\nnode_ttl = "1m30s"\nelection_timeout = "2s"\nheartbeat_interval = "250ms"\n[agent]\nheartbeat = "1.5s"\n[http]\nmax_body_bytes = "2MiB"',
    );
    expect(c.leader).toMatchObject({ nodeTtlMs: 90_000, electionTimeoutMs: 2000, heartbeatIntervalMs: 250 });
    expect(c.agent.heartbeatMs).toBe(1500);
    expect(c.http.maxBodyBytes).toBe(2 * 1024 * 1024);
  });

  test("file is read from disk; role and file recorded", () => {
    const dir = mkdtempSync(join(tmpdir(), "corral-config-"));
    try {
      const f = join(dir, "corral.toml");
      writeFileSync(f, `[cluster]\nsecret = "${SECRET}"\n[node]\nhttp_port = 7801\n`);
      const c = loadConfig({ role: "leader", file: f, env: {}, builtinPlugins: [] });
      expect(c.file).toBe(f);
      expect(c.role).toBe("leader");
      expect(c.node.httpPort).toBe(7801);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("errors", () => {
  test("message format and fields", () => {
    const e = fail("[node]\nhttp_port = 0\n");
    expect(e.message).toBe("corral.toml:2: node.http_port: must be between 1 and 65535, got 0");
    expect(e.file).toBe("corral.toml");
    expect(e.line).toBe(2);
    expect(e.keyPath).toBe("node.http_port");
    expect(e.reason).toBe("must be between 1 and 65535, got 0");
    expect(e.issues).toHaveLength(1);
  });

  test("missing file: OS reason", () => {
    let err: unknown;
    try {
      loadConfig({ role: "dev", file: "/nonexistent/dir/corral.toml", env: {}, builtinPlugins: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.file).toBe("/nonexistent/dir/corral.toml");
    expect(e.line).toBeUndefined();
    expect(e.message).toMatch(/^\/nonexistent\/dir\/corral\.toml: \(file\): cannot read: .*ENOENT/);
  });

  test("syntax error with line", () => {
    const e = fail('[node]\nbind = "127.0.0.1"\nhttp_port = = 3\n');
    expect(e.line).toBe(3);
    expect(e.keyPath).toBe("(syntax)");
    expect(e.message).toStartWith("corral.toml:3: (syntax): ");
    expect(e.reason).toContain("column");
  });

  test("syntax error: unterminated string", () => {
    const e = fail('# comment\n\n[node]\nname = "abc\n');
    expect(e.line).toBe(4);
  });

  test("unknown key with line and suggestion", () => {
    const text = ["# top", "[node]", 'bind = "127.0.0.1"', "", "", "", "", "", "", "", "", 'bnid = "x"'].join("\n");
    const e = fail(text);
    expect(e.message).toBe('corral.toml:12: node.bnid: unknown key (did you mean "bind"?)');
  });

  test("unknown key without a close match", () => {
    expect(fail("[node]\ncolour = 1").message).toBe("corral.toml:2: node.colour: unknown key");
  });

  test("unknown table and unknown key in [plugins]", () => {
    expect(fail('[nodes]\nbind = "x"').message).toBe('corral.toml:1: nodes: unknown key (did you mean "node"?)');
    expect(fail('[plugins]\nenabeld = ["probe"]').message).toBe(
      'corral.toml:2: plugins.enabeld: unknown key (did you mean "enabled"?)',
    );
    expect(fail("foo = 1\n").message).toBe("corral.toml:1: foo: unknown key");
  });

  test("camelCase key suggests snake_case", () => {
    expect(fail("[node]\nhttpPort = 1").reason).toBe('unknown key (did you mean "http_port"?)');
  });

  test("wrong type with line", () => {
    const e = fail('[node]\nbind = "10.0.0.1"\nhttp_port = "7700"\n');
    expect(e.message).toBe('corral.toml:3: node.http_port: expected an integer, got the string "7700"');
    expect(fail("[plugins]\nwatch = 1").message).toBe("corral.toml:2: plugins.watch: expected true or false, got the integer 1");
    expect(fail("node = 3").message).toBe("corral.toml:1: node: expected a table, got the integer 3");
    expect(fail("[node]\nhttp_port = 80.5").reason).toBe("expected an integer, got the number 80.5");
  });

  test("wrong type inside a multi-line array points at the element", () => {
    const e = fail('[leader]\npeers = [\n  "a:1",\n  "b:2",\n  3,\n]\n');
    expect(e.message).toBe("corral.toml:5: leader.peers[2]: expected a string, got the integer 3");
  });

  test("bad peer address", () => {
    expect(fail('[leader]\npeers = ["a:1", "nohost"]').message).toBe(
      'corral.toml:2: leader.peers[1]: expected "host:port", got "nohost"',
    );
    expect(fail('[leader]\npeers = ["a:99999"]').reason).toContain("port must be between 1 and 65535");
  });

  test("leaders accept host:port and URLs", () => {
    const c = load('[agent]\nleaders = ["10.0.0.1:7700", "https://l2.example:7700", "[::1]:7700"]');
    expect(c.agent.leaders).toHaveLength(3);
    expect(fail('[agent]\nleaders = ["ftp://x:1"]').keyPath).toBe("agent.leaders[0]");
  });

  test("out of range port", () => {
    expect(fail("[node]\nhttp_port = 65536").message).toBe(
      "corral.toml:2: node.http_port: must be between 1 and 65535, got 65536",
    );
    expect(fail("[node]\nhttp_port = -1").line).toBe(2);
  });

  test("bad enum", () => {
    expect(fail('[node]\nlog_level = "verbose"').message).toBe(
      'corral.toml:2: node.log_level: must be one of "debug", "info", "warn", "error"; got "verbose"',
    );
  });

  test("bad node name, empty data_dir", () => {
    expect(fail('[node]\nname = "-bad name"').reason).toContain("node name must be 1-63");
    expect(fail('[node]\ndata_dir = ""').message).toBe("corral.toml:2: node.data_dir: must not be empty");
  });

  test("bad durations", () => {
    expect(fail("[leader]\nnode_ttl = 15").message).toBe(
      'corral.toml:2: leader.node_ttl: expected a duration string with a unit such as "15s" or "15ms", got the number 15 (units: ms, s, m, h)',
    );
    expect(fail('[leader]\nnode_ttl = "15"').reason).toContain("has no unit");
    expect(fail('[leader]\nnode_ttl = "15 seconds"').reason).toContain("is not a duration");
    expect(fail('[agent]\nheartbeat = "0s"').reason).toContain("too short");
    expect(fail('[agent]\nheartbeat = true').reason).toContain("expected a duration string");
  });

  test("heartbeat must be shorter than election timeout", () => {
    const e = fail('[leader]\nelection_timeout = "100ms"\nheartbeat_interval = "200ms"');
    expect(e.line).toBe(3);
    expect(e.keyPath).toBe("leader.heartbeat_interval");
  });

  test("metrics history and threshold keys", () => {
    const c = load(
      '[leader]\nmetrics_retention = "2h"\nmetrics_resolution = "30s"\ncpu_warning_percent = 75\nmemory_warning_percent = 0\nthreshold_duration = "0s"\n[http]\nmax_event_streams = 3',
    );
    expect(c.leader).toMatchObject({
      metricsRetentionMs: 7_200_000, metricsResolutionMs: 30_000, cpuWarningPercent: 75, memoryWarningPercent: 0, thresholdDurationMs: 0,
    });
    expect(c.http.maxEventStreams).toBe(3);
    expect(fail("[leader]\ncpu_warning_percent = 101").message).toBe("corral.toml:2: leader.cpu_warning_percent: must be between 0 and 100, got 101");
    expect(fail('[leader]\nmemory_warning_percent = "90"').reason).toContain("expected an integer");
    const slow = fail('[leader]\nmetrics_retention = "1m"\nmetrics_resolution = "2m"');
    expect(slow.keyPath).toBe("leader.metrics_resolution");
    expect(slow.reason).toContain("must not be longer than leader.metrics_retention");
    expect(fail('[leader]\nmetrics_retention = "30d"\nmetrics_resolution = "100ms"').reason).toContain("buckets per node");
    expect(fail("[http]\nmax_event_streams = 0").reason).toContain("must be between 1");
  });

  test("bad size", () => {
    expect(fail('[http]\nmax_body_bytes = "1XB"').reason).toContain("unknown size unit");
    expect(fail("[http]\nmax_body_bytes = 0").reason).toContain("must be between 1");
  });

  test("all problems are reported, sorted by line", () => {
    const e = fail('[node]\nhttp_port = 0\nlog_level = "x"\n[leader]\nnode_ttl = 5\n');
    expect(e.issues.map((i) => i.line)).toEqual([2, 3, 5]);
    expect(e.message.split("\n")).toHaveLength(3);
    expect(e.line).toBe(2);
  });
});

describe("role rules", () => {
  test("leader and agent need a secret", () => {
    for (const role of ["leader", "agent"] as const) {
      const e = fail('[agent]\nleaders = ["l:7700"]', { role });
      expect(e.keyPath).toBe("cluster.secret");
      expect(e.reason).toContain(`required for the ${role} role`);
      expect(e.line).toBeUndefined(); // no [cluster] table in the file
      expect(e.message).toStartWith("corral.toml: cluster.secret: ");
    }
  });

  test("missing secret points at the [cluster] header when present", () => {
    const e = fail("[node]\n\n[cluster]\n", { role: "leader" });
    expect(e.line).toBe(3);
    expect(e.keyPath).toBe("cluster.secret");
  });

  test("short secret", () => {
    const e = fail('[cluster]\nsecret = "short"', { role: "leader" });
    expect(e.message).toBe("corral.toml:2: cluster.secret: must be at least 16 characters, got 5");
    // a short non-empty secret is refused in dev too
    expect(fail('[cluster]\nsecret = "short"', { role: "dev" }).keyPath).toBe("cluster.secret");
  });

  test("dev allows an empty secret", () => {
    expect(load("", { role: "dev" }).cluster.secret).toBe("");
  });

  test("agent needs leaders", () => {
    const e = fail(`[cluster]\nsecret = "${SECRET}"\n[agent]\nheartbeat = "1s"`, { role: "agent" });
    expect(e.keyPath).toBe("agent.leaders");
    expect(e.line).toBe(3);
    expect(e.reason).toContain("at least one leader");
    const ok = load(`[cluster]\nsecret = "${SECRET}"\n[agent]\nleaders = ["l1:7700"]`, { role: "agent" });
    expect(ok.agent.leaders).toEqual(["l1:7700"]);
  });

  test("leader without peers is fine", () => {
    expect(load(`[cluster]\nsecret = "${SECRET}"`, { role: "leader" }).leader.peers).toEqual([]);
  });
});

describe("environment and flags", () => {
  const file = '[node]\nhttp_port = 7701\nbind = "10.0.0.1"\nlog_level = "warn"\n';

  test("precedence: defaults < file < env < flags", () => {
    expect(load("").node.httpPort).toBe(7700);
    expect(load(file).node.httpPort).toBe(7701);
    const env = { CORRAL_NODE_HTTP_PORT: "7702", CORRAL_NODE_BIND: "10.0.0.2" };
    const c = load(file, { env });
    expect(c.node.httpPort).toBe(7702);
    expect(c.node.bind).toBe("10.0.0.2");
    expect(c.node.logLevel).toBe("warn"); // from the file
    const f = load(file, { env, flags: { httpPort: 7703, logLevel: "debug" } });
    expect(f.node.httpPort).toBe(7703);
    expect(f.node.bind).toBe("10.0.0.2"); // env, no flag
    expect(f.node.logLevel).toBe("debug");
  });

  test("every flag", () => {
    const c = load("", { flags: { bind: "0.0.0.0", httpPort: 9000, dataDir: "/var/corral", logLevel: "error", logFormat: "json", name: "n1" } });
    expect(c.node).toEqual({
      name: "n1",
      dataDir: "/var/corral",
      bind: "0.0.0.0",
      httpPort: 9000,
      advertise: "127.0.0.1",
      logLevel: "error",
      logFormat: "json",
      datacenter: "dc1",
      meta: {},
      hostVolumes: {},
    });
  });

  test("env lists, booleans, durations, sizes", () => {
    const c = load("", {
      env: {
        CORRAL_LEADER_PEERS: "a:1, b:2,,c:3",
        CORRAL_PLUGINS_ENABLED: "probe,dns",
        CORRAL_PLUGINS_WATCH: "false",
        CORRAL_AGENT_HEARTBEAT: "3s",
        CORRAL_HTTP_MAX_BODY_BYTES: "64KiB",
        CORRAL_CLUSTER_SECRET: SECRET,
        CORRAL_ADDR: "http://whatever", // CLI variables are not config keys and are ignored
        CORRAL_TOKEN: "t",
        UNRELATED: "x",
      },
    });
    expect(c.leader.peers).toEqual(["a:1", "b:2", "c:3"]);
    expect(c.plugins.enabled).toEqual(["probe", "dns"]);
    expect(c.plugins.watch).toBe(false);
    expect(c.agent.heartbeatMs).toBe(3000);
    expect(c.http.maxBodyBytes).toBe(65536);
    expect(c.cluster.secret).toBe(SECRET);
    expect(load("", { env: { CORRAL_PLUGINS_ENABLED: "" } }).plugins.enabled).toEqual([]);
  });

  test("env secret satisfies the leader role", () => {
    expect(load("", { role: "leader", env: { CORRAL_CLUSTER_SECRET: SECRET } }).cluster.secret).toBe(SECRET);
  });

  test("bad env value", () => {
    const e = fail(file, { env: { CORRAL_NODE_HTTP_PORT: "seventy" } });
    expect(e.message).toBe('env: CORRAL_NODE_HTTP_PORT: expected an integer, got "seventy"');
    expect(e.file).toBe("env");
    expect(e.line).toBeUndefined();
    expect(fail("", { env: { CORRAL_NODE_HTTP_PORT: "70000" } }).message).toBe(
      "env: CORRAL_NODE_HTTP_PORT: must be between 1 and 65535, got 70000",
    );
    expect(fail("", { env: { CORRAL_PLUGINS_WATCH: "maybe" } }).reason).toBe('expected true or false, got "maybe"');
    expect(fail("", { env: { CORRAL_LEADER_NODE_TTL: "15" } }).keyPath).toBe("CORRAL_LEADER_NODE_TTL");
    expect(fail("", { env: { CORRAL_LEADER_PEERS: "a:1,bad" } }).message).toBe(
      'env: CORRAL_LEADER_PEERS: item 2: expected "host:port", got "bad"',
    );
    expect(fail("", { role: "leader", env: { CORRAL_CLUSTER_SECRET: "short" } }).message).toBe(
      "env: CORRAL_CLUSTER_SECRET: must be at least 16 characters, got 5",
    );
  });

  test("unknown env variable in a config section", () => {
    expect(fail("", { env: { CORRAL_NODE_HTTPPORT: "1" } }).message).toBe(
      "env: CORRAL_NODE_HTTPPORT: unknown variable (did you mean CORRAL_NODE_HTTP_PORT?)",
    );
  });

  test("env overrides a bad file value without an error", () => {
    expect(load("[node]\nhttp_port = 0", { env: { CORRAL_NODE_HTTP_PORT: "7000" } }).node.httpPort).toBe(7000);
  });

  test("bad flag", () => {
    const e = fail(file, { flags: { httpPort: 0 } });
    expect(e.message).toBe("flags: --http-port: must be between 1 and 65535, got 0");
    expect(fail("", { flags: { logLevel: "loud" } }).message).toBe(
      'flags: --log-level: must be one of "debug", "info", "warn", "error"; got "loud"',
    );
    expect(fail("", { flags: { name: "a b" } }).keyPath).toBe("--name");
    expect(fail("", { flags: { dataDir: "" } }).file).toBe("flags");
    expect(fail("", { flags: { httpPort: 1.5 } }).reason).toBe("expected an integer, got 1.5");
  });

  test("errors from file, env and flags together, in that order", () => {
    const e = fail("[node]\nlog_level = 3", { env: { CORRAL_NODE_HTTP_PORT: "x" }, flags: { name: "?" } });
    expect(e.issues.map((i) => i.file)).toEqual(["corral.toml", "env", "flags"]);
  });
});

describe("plugin tables", () => {
  const probeSchema = z.object({
    interval: durationMs().default(1000),
    disks: z.array(z.string()).default([]),
    limits: z.object({ cpu: z.number().default(1) }).prefault({}),
  });
  const schemas = { probe: probeSchema };

  test("validated by the supplied schema, kept raw in settings", () => {
    const c = load('[plugins.probe]\ninterval = "5s"\n[plugins.probe.limits]\ncpu = 2\n', { pluginSchemas: schemas });
    expect(c.plugins.settings.probe).toEqual({ interval: "5s", limits: { cpu: 2 } });
  });

  test("unknown key in a known plugin table is an error with line and suggestion", () => {
    const e = fail('[plugins.probe]\ninterval = "1s"\nintreval = "2s"\n', { pluginSchemas: schemas });
    expect(e.message).toBe('corral.toml:3: plugins.probe.intreval: unknown key (did you mean "interval"?)');
    const nested = fail("[plugins.probe.limits]\ncpu = 1\nmem = 2\n", { pluginSchemas: schemas });
    expect(nested.message).toBe("corral.toml:3: plugins.probe.limits.mem: unknown key");
  });

  test("strict plugin schemas report unknown keys too", () => {
    const e = fail("[plugins.strict]\nalpha = 1\nzulu = 2\n", {
      pluginSchemas: { strict: z.strictObject({ alpha: z.number() }) },
    });
    expect(e.message).toBe("corral.toml:3: plugins.strict.zulu: unknown key");
    expect(e.issues).toHaveLength(1);
  });

  test("wrong type in a plugin table", () => {
    const e = fail('[plugins.probe]\ninterval = 5\ndisks = ["a", 1]\n', { pluginSchemas: schemas });
    expect(e.issues.map((i) => `${i.line} ${i.keyPath}`)).toEqual(["2 plugins.probe.interval", "3 plugins.probe.disks[1]"]);
  });

  test("tables for other plugins are kept raw", () => {
    const c = load('[plugins.mything]\nanything = "goes"\nnested = { x = 1 }\n', { pluginSchemas: schemas });
    expect(c.plugins.settings.mything).toEqual({ anything: "goes", nested: { x: 1 } });
  });

  test("dotted keys in [plugins] define plugin tables", () => {
    const c = load('[plugins]\nwatch = false\nprobe.interval = "2s"\n', { pluginSchemas: schemas });
    expect(c.plugins.watch).toBe(false);
    expect(c.plugins.settings).toEqual({ probe: { interval: "2s" } });
    const e = fail('[plugins]\nprobe.intervl = "2s"\n', { pluginSchemas: schemas });
    expect(e.message).toBe('corral.toml:2: plugins.probe.intervl: unknown key (did you mean "interval"?)');
  });

  test("plugins.enabled names are checked", () => {
    expect(fail('[plugins]\nenabled = ["ok", "not ok"]').keyPath).toBe("plugins.enabled[1]");
    expect(load('[plugins]\nenabled = ["dns", "dns", "x"]').plugins.enabled).toEqual(["dns", "x"]);
  });
});

describe("[tls] and rate limits", () => {
  test("cert_file and key_file go together; verify_incoming needs a CA", () => {
    expect(fail('[tls]\ncert_file = "/c.pem"').message).toContain("tls.key_file");
    expect(fail('[tls]\ncert_file = "/c.pem"').message).toContain("cert_file and key_file go together");
    expect(fail('[tls]\ncert_file = "/c.pem"\nkey_file = "/k.pem"\nverify_incoming = true').message).toContain("tls.verify_incoming");
    const ok = load('[tls]\ncert_file = "/c.pem"\nkey_file = "/k.pem"\nca_file = "/ca.pem"\nverify_incoming = true');
    expect(ok.tls).toEqual({ certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem", verifyIncoming: true, verifyOutgoing: true });
  });

  test("rate limits are whole numbers; the burst at least 1", () => {
    expect(load("[http]\nrate_limit_per_token = 50\nrate_limit_burst = 5").http).toMatchObject({ rateLimitPerToken: 50, rateLimitBurst: 5 });
    expect(fail("[http]\nrate_limit_burst = 0").message).toContain("http.rate_limit_burst");
    expect(fail('[http]\nrate_limit_per_address = "10"').message).toContain("expected an integer");
  });

  test("environment variables reach the new keys", () => {
    const c = loadConfig({ role: "dev", text: "", file: "corral.toml", env: { CORRAL_HTTP_RATE_LIMIT_PER_ADDRESS: "7", CORRAL_TLS_VERIFY_OUTGOING: "false" }, builtinPlugins: [] });
    expect(c.http.rateLimitPerAddress).toBe(7);
    expect(c.tls.verifyOutgoing).toBe(false);
  });
});
