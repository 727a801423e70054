// The help of `corral dev | leader | agent` (flags, usage), apart from the
// code that starts a node (run.ts): every CLI call reads these specs for its
// command table and --help, and only a call that starts a node (or checks a
// config, which loads every plugin's schema) loads the node itself. Loading
// it was ~0.6 s of CPU on every `corral` call before.
import type { CommandSpec } from "../args.ts";

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
