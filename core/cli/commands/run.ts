// `corral dev | leader | agent`: load the config, start the node, wire
// signals (SIGINT/SIGTERM stop gracefully, SIGHUP reloads the config).
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

export { agentSpec, devSpec, leaderSpec, nodeFlags } from "./node-specs.ts";

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
