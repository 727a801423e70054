// `corral config check FILE`: validate a config without starting anything.
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { loadConfig } from "../../config/load.ts";
import { builtinPlugins } from "../../plugins/builtin.ts";
import { pluginSchemas } from "./run.ts";
import type { Role } from "../../config/types.ts";

export const configCheckSpec: CommandSpec = {
  name: "config check",
  summary: "Validate a config file: prints `ok` or each problem as FILE:LINE: key: reason (exit 2).",
  usage: "corral config check FILE [--role leader|agent|dev]",
  flags: { role: { type: "string", value: "ROLE", help: "Check the rules of this role (default: leader)" } },
};

export async function configCheck(args: Parsed): Promise<number> {
  const file = args.positionals[0];
  if (!file) throw new UsageError("config check needs a FILE");
  const role = (args.flags.role as Role | undefined) ?? "leader";
  if (!["leader", "agent", "dev"].includes(role)) throw new UsageError(`--role must be leader, agent or dev`);
  const cfg = loadConfig({ role, file, env: {}, builtinPlugins: builtinPlugins().map((p) => p.name), pluginSchemas: pluginSchemas() });
  process.stdout.write(`ok: ${file} is a valid ${role} config (node ${cfg.node.name}, ${cfg.node.bind}:${cfg.node.httpPort})\n`);
  return 0;
}
