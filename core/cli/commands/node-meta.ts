// `corral node meta apply [-node-id N] [-unset k] k=v ...` and `corral node meta read [-node-id N]`:
// a node's dynamic meta, as Nomad 1.5+'s `nomad node meta` (POST/GET /v1/client/metadata).
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const nodeMetaSpec: CommandSpec = {
  name: "node meta",
  summary: "Read or apply a node's dynamic meta (constraints, spreads and tasks read it as ${meta.<key>}).",
  usage: "corral node meta apply [-node-id ID] [-unset KEY]... KEY=VALUE... | read [-node-id ID] [--json] [--addr URL] [--token TOKEN]",
  details: [
    "Without -node-id: the node at --addr (it must run an agent). Applied meta goes over [node] meta from the config file,",
    "is kept in the node's data dir across restarts, and reaches the leaders at once. -unset removes a key (a config key too).",
  ].join("\n"),
  actions: ["apply", "read"],
  flags: {
    "node-id": { type: "string", value: "ID", help: "The node (id or name); default the node at --addr" },
    unset: { type: "list", value: "KEY", help: "Remove this key (repeatable, or comma-separated)" },
    ...clientFlags,
  },
};

interface MetaJson {
  Meta: Record<string, string>;
  Dynamic: Record<string, string | null>;
  Static: Record<string, string>;
}

/** "k=v" words into a change; "k=" sets an empty value (use -unset to remove). */
export function metaChange(words: readonly string[], unset: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new UsageError(`expected KEY=VALUE, got "${w}"`);
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  for (const k of unset) {
    if (k in out) throw new UsageError(`"${k}" is both set and unset`);
    out[k] = null;
  }
  return out;
}

export async function nodeMeta(args: Parsed): Promise<number> {
  const [action, ...rest] = args.positionals;
  const client = clientFrom(args);
  const nodeId = args.flags["node-id"] as string | undefined;
  const q = nodeId ? `?node_id=${encodeURIComponent(nodeId)}` : "";
  let out: MetaJson;
  if (action === "read") {
    if (rest.length) throw new UsageError("read takes no KEY=VALUE arguments");
    out = await client.get<MetaJson>(`/v1/client/metadata${q}`);
  } else if (action === "apply") {
    const change = metaChange(rest, (args.flags.unset as string[] | undefined) ?? []);
    if (Object.keys(change).length === 0) throw new UsageError("nothing to apply: give KEY=VALUE or -unset KEY");
    out = await client.post<MetaJson>(`/v1/client/metadata${q}`, { Meta: change });
  } else throw new UsageError("expected apply or read");
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  const keys = Object.keys(out.Meta).sort();
  if (keys.length === 0) {
    process.stdout.write("No meta.\n");
    return 0;
  }
  const rows = keys.map((k) => [k, out.Meta[k]!, k in out.Dynamic ? "dynamic" : "config"]);
  process.stdout.write(table(["KEY", "VALUE", "SOURCE"], rows) + "\n");
  return 0;
}
