// `corral plugins list | enable NAME | disable NAME | reload NAME`.
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { ago, table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const pluginsSpec: CommandSpec = {
  name: "plugins",
  actions: ["list", "enable", "disable", "reload"],
  summary: "List plugins, or enable, disable or reload one while the node serves.",
  usage: "corral plugins list|enable NAME|disable NAME|reload NAME [--json]",
  flags: { ...clientFlags },
};

interface PluginJson {
  name: string;
  version: string;
  source: string;
  state: string;
  error?: string;
  since: number;
}

export async function plugins(args: Parsed): Promise<number> {
  const [action = "list", name] = args.positionals;
  const client = clientFrom(args);
  const print = (p: PluginJson) => {
    if (args.flags.json) process.stdout.write(JSON.stringify(p, null, 2) + "\n");
    else process.stdout.write(`${p.name}: ${p.state}${p.error ? ` (${p.error})` : ""}\n`);
    return p.state === "failed" ? 1 : 0;
  };
  switch (action) {
    case "list": {
      const list = await client.get<PluginJson[]>("/v1/plugins");
      if (args.flags.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      else {
        const rows = list.map((p) => [p.name, p.state, p.version, p.source, ago(p.since), p.error ?? ""]);
        process.stdout.write(table(["NAME", "STATE", "VERSION", "SOURCE", "SINCE", "ERROR"], rows) + "\n");
      }
      return 0;
    }
    case "enable":
    case "disable":
      if (!name) throw new UsageError(`plugins ${action} needs a plugin NAME`);
      return print(await client.put<PluginJson>(`/v1/plugins/${encodeURIComponent(name)}`, { enabled: action === "enable" }));
    case "reload":
      if (!name) throw new UsageError("plugins reload needs a plugin NAME");
      return print(await client.post<PluginJson>(`/v1/plugins/${encodeURIComponent(name)}/reload`));
    default:
      throw new UsageError(`unknown plugins action "${action}" (list, enable, disable, reload)`);
  }
}
