// `corral config check FILE`: validate a config without starting anything,
// exactly as `corral <role> --config FILE` would (configFromArgs: the same
// environment overrides, the same flags, the same schema), for the role the
// file implies (core/config/implied-role.ts) or --role.
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { impliedRole } from "../../config/implied-role.ts";
import type { Config, Role } from "../../config/types.ts";
import { hostPort } from "../../net/bind-error.ts";
import type { PluginModule } from "../../plugins/types.ts";
import { nodeFlags } from "./node-specs.ts";

const { config: _config, ...startFlags } = nodeFlags;

export const configCheckSpec: CommandSpec = {
  name: "config check",
  summary: "Validate a config file as start would: prints `ok` or each problem as FILE:LINE: key: reason (exit 2).",
  usage: "corral config check FILE [--role leader|agent|dev] [node flags]",
  details: [
    "Checks what `corral ROLE --config FILE` checks, CORRAL_* environment overrides and the node flags below included.",
    "The role is the one the file implies: agent when agent.leaders is set, leader when it has a [leader] table or",
    "cluster.secret, dev otherwise. --role picks it outright.",
  ].join("\n"),
  flags: { role: { type: "string", value: "ROLE", help: "Check the rules of this role (default: the one the file implies)" }, ...startFlags },
};

export async function configCheck(args: Parsed): Promise<number> {
  const file = args.positionals[0];
  if (!file) throw new UsageError("config check needs a FILE");
  const asked = args.flags.role as string | undefined;
  if (asked !== undefined && !["leader", "agent", "dev"].includes(asked)) throw new UsageError(`--role must be leader, agent or dev`);
  const implied = asked ? { role: asked as Role, reason: "--role" } : impliedRole(parsedOrEmpty(file), process.env);
  // The node's config code and every plugin's schema: loaded only for this command (node-specs.ts).
  const [{ configFromArgs }, { builtinPlugins }] = await Promise.all([import("./run.ts"), import("../../plugins/builtin.ts")]);
  const cfg = configFromArgs(implied.role, args, file);
  process.stdout.write(
    `ok: ${file} is a valid ${implied.role} config (${implied.reason === "--role" ? "role from --role" : `role ${implied.role}: ${implied.reason}`}; node ${cfg.node.name}, ${cfg.node.bind}:${cfg.node.httpPort})\n`,
  );
  // Where it would listen: what a second node on this machine must not share.
  process.stdout.write(`listeners: ${listeners(cfg, builtinPlugins()).join(", ")}\n`);
  return 0;
}

function listeners(cfg: Config, plugins: PluginModule[]): string[] {
  const out = [`http ${hostPort(cfg.node.bind, cfg.node.httpPort)}`];
  const on = new Set(cfg.plugins.enabled);
  // Each enabled plugin says where it listens (PluginModule.listeners), in the plugin list's order.
  for (const mod of plugins) {
    if (!on.has(mod.name) || !mod.listeners) continue;
    out.push(...mod.listeners(mod.configSchema.parse(cfg.plugins.settings[mod.name] ?? {})));
  }
  return out;
}

/** The file's tables, or {} when it cannot be read or parsed (configFromArgs then reports that, with the line). */
function parsedOrEmpty(file: string): Record<string, unknown> {
  try {
    return parseToml(readFileSync(file, "utf8").replace(/^\uFEFF/, "")) as Record<string, unknown>;
  } catch {
    return {};
  }
}
