// `corral nodes`: the cluster's nodes as a table (or JSON).
import type { CommandSpec, Parsed } from "../args.ts";
import { ApiClient } from "../client.ts";
import { ago, bytes, table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { listAll, pageFlags } from "../paged.ts";

export const nodesSpec: CommandSpec = {
  name: "nodes",
  summary: "List the cluster's nodes with status and resources.",
  usage: "corral nodes [-v] [--per-page N] [--page-token TOKEN] [--filter EXPR] [--json] [--addr URL] [--token TOKEN]",
  flags: { verbose: { type: "boolean", short: "v", help: "Also show each node's datacenter and meta" }, ...pageFlags, ...clientFlags },
};

interface NodeJson {
  id: string;
  name: string;
  address: string;
  status: string;
  role: string;
  resources: { cpuMhz: number; cores: number; memoryBytes: number };
  lastHeartbeatAt: number | null;
  datacenter: string;
  meta: Record<string, string>;
}

export async function nodes(args: Parsed): Promise<number> {
  const client: ApiClient = clientFrom(args);
  const list = await listAll<NodeJson>(client, "/v1/nodes", args);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return 0;
  }
  if (list.length === 0) {
    process.stdout.write("No nodes.\n");
    return 0;
  }
  const verbose = Boolean(args.flags.verbose);
  const rows = list.map((n) => [
    n.id.slice(0, 8), n.name, n.status, n.role, n.address,
    String(n.resources.cores), `${n.resources.cpuMhz} MHz`, bytes(n.resources.memoryBytes), ago(n.lastHeartbeatAt),
    ...(verbose ? [n.datacenter, metaText(n.meta)] : []),
  ]);
  const head = ["ID", "NAME", "STATUS", "ROLE", "ADDRESS", "CORES", "CPU", "MEMORY", "HEARTBEAT", ...(verbose ? ["DC", "META"] : [])];
  process.stdout.write(table(head, rows) + "\n");
  return 0;
}

/** "rack=r1,zone=a" (sorted), "-" when none. */
function metaText(meta: Record<string, string> | undefined): string {
  const keys = Object.keys(meta ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${meta![k]}`).join(",") : "-";
}
