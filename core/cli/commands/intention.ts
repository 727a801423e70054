// `corral intention create SRC DST --allow|--deny`, `list`, `delete SRC DST`,
// `check SRC DST` (Consul's /v1/connect/intentions; "*" is a wildcard).
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const intentionSpec: CommandSpec = {
  name: "intention",
  actions: ["create", "list", "delete", "check"],
  summary: "Create, list, delete or check service-to-service intentions.",
  usage: "corral intention create SRC DST --allow|--deny [--description TEXT] [--replace] | list | delete SRC DST | check SRC DST [--json]",
  flags: {
    ...clientFlags,
    allow: { type: "boolean", help: "SRC may call DST" },
    deny: { type: "boolean", help: "SRC may not call DST" },
    description: { type: "string", value: "TEXT", help: "why" },
    replace: { type: "boolean", help: "replace an existing intention for the pair instead of failing" },
  },
  details: 'SRC and DST are service names or "*". Exact names beat "*"; a destination\'s own intentions beat a source\'s wildcard ones (docs/acl.md). check exits 1 when denied.',
};

interface IntentionJson {
  ID: string;
  SourceName: string;
  DestinationName: string;
  Action: string;
  Precedence: number;
  Description: string;
}

const pair = (src: string, dst: string) => `source=${encodeURIComponent(src)}&destination=${encodeURIComponent(dst)}`;

export async function intention(args: Parsed): Promise<number> {
  const [action, src, dst] = args.positionals;
  const client = clientFrom(args);
  const needPair = () => {
    if (!src || !dst) throw new UsageError(`intention ${action} needs SRC and DST`);
    return [src, dst] as const;
  };
  switch (action) {
    case "create": {
      const [s, d] = needPair();
      if (Boolean(args.flags.allow) === Boolean(args.flags.deny)) throw new UsageError("intention create needs exactly one of --allow, --deny");
      const body = { SourceName: s, DestinationName: d, Action: args.flags.allow ? "allow" : "deny", Description: (args.flags.description as string | undefined) ?? "" };
      if (args.flags.replace) await client.put(`/v1/connect/intentions/exact?${pair(s, d)}`, body);
      else await client.post("/v1/connect/intentions", body);
      process.stdout.write(`${s} => ${d} (${body.Action})\n`);
      return 0;
    }
    case "list": {
      const list = await client.get<IntentionJson[]>("/v1/connect/intentions");
      if (args.flags.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      else {
        const rows = [...list].sort((a, b) => b.Precedence - a.Precedence).map((i) => [i.SourceName, "=>", i.DestinationName, i.Action, i.Precedence, i.Description]);
        process.stdout.write(table(["SOURCE", "", "DESTINATION", "ACTION", "PRECEDENCE", "DESCRIPTION"], rows) + "\n");
      }
      return 0;
    }
    case "delete": {
      const [s, d] = needPair();
      await client.delete(`/v1/connect/intentions/exact?${pair(s, d)}`);
      process.stdout.write(`deleted ${s} => ${d}\n`);
      return 0;
    }
    case "check": {
      const [s, d] = needPair();
      const r = await client.get<{ Allowed: boolean }>(`/v1/connect/intentions/check?${pair(s, d)}`);
      if (args.flags.json) process.stdout.write(JSON.stringify(r) + "\n");
      else process.stdout.write(r.Allowed ? "Allowed\n" : "Denied\n");
      return r.Allowed ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown intention action "${action ?? ""}" (create, list, delete, check)`);
  }
}
