// `corral dev | leader | agent`: load the config, start the node, wire
// signals (SIGINT/SIGTERM stop gracefully, SIGHUP reloads the config).
import type { CommandSpec } from "../args.ts";
import type { Role } from "../../config/types.ts";
import { ConfigError, loadConfig, type LoadFlags } from "../../config/load.ts";
import { preflight } from "../../config/preflight.ts";
import { builtinPlugins } from "../../plugins/builtin.ts";
import { startNode, type RunningNode } from "../../node.ts";
import { DataDirInUseError } from "../../cluster/data-dir-lock.ts";
import type { Parsed } from "../args.ts";
import { NewerFormatError } from "../../state/command-versions.ts";
import { applyDevDefaults, devAllowsRaw } from "../dev-defaults.ts";
import { installHeapDebug } from "../../debug-heap.ts";

export const nodeFlags = {
  config: { type: "string", value: "FILE", help: "TOML config file (see config.example.toml)" },
  bind: { type: "string", value: "ADDR", help: "Address the HTTP API binds (overrides node.bind)" },
  "http-port": { type: "number", value: "N", help: "HTTP API port (overrides node.http_port)" },
  "dns-port": { type: "number", value: "N", help: "DNS server port, UDP and TCP (overrides [plugins.dns] port)" },
  "invoke-port": { type: "number", value: "N", help: "Invoke proxy port (overrides [plugins.invoke] port)" },
  ports: { type: "number", value: "BASE", help: "Every listener from one base: HTTP on BASE, invoke proxy on BASE+1, DNS on BASE+53 (a listener's own flag wins)" },
  "data-dir": { type: "string", value: "DIR", help: "Data folder (overrides node.data_dir)" },
  "log-level": { type: "string", value: "LEVEL", help: "debug, info, warn or error (overrides node.log_level)" },
  "log-format": { type: "string", value: "FORMAT", help: "auto, text or json (overrides node.log_format; auto: text on a terminal, JSON otherwise)" },
  name: { type: "string", value: "NAME", help: "Node name (overrides node.name)" },
} as const;

export const devSpec: CommandSpec = {
  name: "dev",
  summary: "Run a development node: leader and agent in one process, every built-in plugin on, bound to 127.0.0.1:7700, data in ./data.",
  usage: "corral dev [options]",
  flags: nodeFlags,
};

export const leaderSpec: CommandSpec = {
  name: "leader",
  summary: "Run a leader-role (control-plane) node.",
  usage: "corral leader --config FILE [options]",
  flags: nodeFlags,
  details: "The config must set cluster.secret (16+ characters); agents present it when they join.",
};

export const agentSpec: CommandSpec = {
  name: "agent",
  summary: "Run an agent (worker) node that joins the leaders in agent.leaders.",
  usage: "corral agent --config FILE [options]",
  flags: nodeFlags,
  details: "The config must set cluster.secret (the leaders' secret) and agent.leaders.",
};

export function pluginSchemas() {
  return Object.fromEntries(builtinPlugins().map((p) => [p.name, p.configSchema]));
}

/**
 * The config a node of `role` starts with: file, environment and flags, validated.
 * `corral config check` calls this too, so it refuses exactly what start refuses.
 */
export function configFromArgs(role: Role, args: Parsed, file = args.flags.config as string | undefined) {
  const f = args.flags;
  const flags: LoadFlags = {
    bind: f.bind as string | undefined,
    httpPort: f["http-port"] as number | undefined,
    dataDir: f["data-dir"] as string | undefined,
    logLevel: f["log-level"] as string | undefined,
    logFormat: f["log-format"] as string | undefined,
    dnsPort: f["dns-port"] as number | undefined,
    invokePort: f["invoke-port"] as number | undefined,
    ports: f.ports as number | undefined,
    name: f.name as string | undefined,
  };
  const config = loadConfig({
    role,
    file,
    flags,
    builtinPlugins: builtinPlugins().map((p) => p.name),
    pluginSchemas: pluginSchemas(),
  });
  preflight(config); // what start needs from the machine (readable TLS files)
  // `corral dev` without a config file allows raw tasks (core/cli/dev-defaults.ts).
  return applyDevDefaults(config, role, file);
}

export async function runNode(role: Role, args: Parsed): Promise<number> {
  if ((role === "leader" || role === "agent") && !args.flags.config) {
    process.stderr.write(`corral ${role}: --config FILE is required (see config.example.toml)\n`);
    return 2;
  }
  const config = configFromArgs(role, args);
  // A node whose state database failed stops for good: exit non-zero so a
  // service manager restarts it (docs/security.md, "Bad state").
  // A fatal error during start (an entry replayed from the log that this
  // release cannot apply) is held until the handler below exists.
  let early: Error | undefined;
  let onFatal = (err: Error) => void (early ??= err);
  let node: RunningNode;
  try {
    node = await startNode(config, { onFatal: (err) => onFatal(err), readConfig: () => configFromArgs(role, args) });
  } catch (err) {
    // Another corral owns this data dir: a usage problem (exit 2), not a crash.
    if (err instanceof DataDirInUseError) {
      process.stderr.write(`corral: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const stop = async (signal: string, code = 0) => {
    node.log.info("stopping", { signal });
    const hard = setTimeout(() => process.exit(1), 10_000);
    await node.shutdown();
    clearTimeout(hard);
    process.exit(code);
  };
  onFatal = (err) => {
    const why = err instanceof NewerFormatError ? "its log holds an entry from a newer release" : "its state database failed";
    node.log.error(`corral cannot go on: ${why}; exiting (status 70)`, { error: err.message });
    void stop("fatal", 70);
  };
  if (early) onFatal(early);
  if (devAllowsRaw(role, args.flags.config as string | undefined, config.node.bind)) node.log.warn("dev node without a config file: raw tasks are allowed ([plugins.exec] allow_raw = true), as Nomad's -dev agent allows raw_exec; start with --config to decide otherwise");
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  installHeapDebug(); // only with CORRAL_DEBUG_HEAP_FILE set (docs/scale.md)
  process.on("SIGHUP", () => {
    try {
      node.reload(configFromArgs(role, args)).catch((err) => node.log.error("config reload failed part way", { error: String(err) }));
    } catch (err) {
      // A bad edit must not take a running node down: keep the old config.
      const msg = err instanceof ConfigError ? err.message : String(err);
      node.log.error("config reload refused; keeping the running configuration", { error: msg });
    }
  });
  // A dev node is its own leader: "ready" means it lists itself, so
  // `curl /v1/nodes` right after the line is not a race (signals are handled
  // meanwhile). An agent does not wait: its leaders may be down; it keeps trying.
  for (const deadline = Date.now() + 10_000; role === "dev" && !node.agentJoined() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  const failed = node.failedPlugins.length > 0 ? `; plugins failed: ${node.failedPlugins.join(", ")} (see corral plugins list)` : "";
  process.stdout.write(`corral ${role} ready: API at ${node.url} (node ${config.node.name}, data in ${config.node.dataDir})${failed}\n`);
  if (node.plugins.get("ui")?.state === "enabled") process.stdout.write(`dashboard: ${node.url}/ui\n`);
  return new Promise<number>(() => {}); // runs until a signal
}
