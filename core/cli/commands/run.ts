// `corral dev | leader | agent`: load the config, start the node, wire
// signals (SIGINT/SIGTERM stop gracefully, SIGHUP reloads the config).
import type { CommandSpec } from "../args.ts";
import type { Role } from "../../config/types.ts";
import { ConfigError, loadConfig, type LoadFlags } from "../../config/load.ts";
import { builtinPlugins } from "../../plugins/builtin.ts";
import { startNode } from "../../node.ts";
import type { Parsed } from "../args.ts";

const nodeFlags = {
  config: { type: "string", value: "FILE", help: "TOML config file (see config.example.toml)" },
  bind: { type: "string", value: "ADDR", help: "Address the HTTP API binds (overrides node.bind)" },
  "http-port": { type: "number", value: "N", help: "HTTP API port (overrides node.http_port)" },
  "data-dir": { type: "string", value: "DIR", help: "Data folder (overrides node.data_dir)" },
  "log-level": { type: "string", value: "LEVEL", help: "debug, info, warn or error (overrides node.log_level)" },
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

export function configFromArgs(role: Role, args: Parsed) {
  const f = args.flags;
  const flags: LoadFlags = {
    bind: f.bind as string | undefined,
    httpPort: f["http-port"] as number | undefined,
    dataDir: f["data-dir"] as string | undefined,
    logLevel: f["log-level"] as string | undefined,
    name: f.name as string | undefined,
  };
  return loadConfig({
    role,
    file: f.config as string | undefined,
    flags,
    builtinPlugins: builtinPlugins().map((p) => p.name),
    pluginSchemas: pluginSchemas(),
  });
}

export async function runNode(role: Role, args: Parsed): Promise<number> {
  if ((role === "leader" || role === "agent") && !args.flags.config) {
    process.stderr.write(`corral ${role}: --config FILE is required (see config.example.toml)\n`);
    return 2;
  }
  const config = configFromArgs(role, args);
  // A node whose state database failed stops for good: exit non-zero so a
  // service manager restarts it (docs/security.md, "Bad state").
  let onFatal = (_err: Error) => {};
  const node = await startNode(config, { onFatal: (err) => onFatal(err), readConfig: () => configFromArgs(role, args) });
  process.stdout.write(`corral ${role} ready: API at ${node.url} (node ${config.node.name}, data in ${config.node.dataDir})\n`);
  if (node.plugins.get("ui")?.state === "enabled") process.stdout.write(`dashboard: ${node.url}/ui\n`);

  const stop = async (signal: string, code = 0) => {
    node.log.info("stopping", { signal });
    const hard = setTimeout(() => process.exit(1), 10_000);
    await node.shutdown();
    clearTimeout(hard);
    process.exit(code);
  };
  onFatal = (err) => {
    node.log.error("corral cannot go on: its state database failed; exiting (status 70)", { error: err.message });
    void stop("fatal", 70);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGHUP", () => {
    try {
      node.reload(configFromArgs(role, args)).catch((err) => node.log.error("config reload failed part way", { error: String(err) }));
    } catch (err) {
      // A bad edit must not take a running node down: keep the old config.
      const msg = err instanceof ConfigError ? err.message : String(err);
      node.log.error("config reload refused; keeping the running configuration", { error: msg });
    }
  });
  return new Promise<number>(() => {}); // runs until a signal
}
