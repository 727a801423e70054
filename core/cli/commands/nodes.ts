// `corral nodes`: the cluster's nodes as a table (or JSON).
import type { CommandSpec, Parsed } from "../args.ts";
import { ApiClient } from "../client.ts";
import { ago, bytes, table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const nodesSpec: CommandSpec = {
  name: "nodes",
  summary: "List the cluster's nodes with status and resources.",
  usage: "corral nodes [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

interface NodeJson {
  id: string;
  name: string;
  address: string;
  status: string;
  role: string;
  resources: { cpuMhz: number; cores: number; memoryBytes: number };
  lastHeartbeatAt: number | null;
}

export async function nodes(args: Parsed): Promise<number> {
  const client: ApiClient = clientFrom(args);
  const list = await client.get<NodeJson[]>("/v1/nodes");
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return 0;
  }
  if (list.length === 0) {
    process.stdout.write("No nodes.\n");
    return 0;
  }
  const rows = list.map((n) => [
    n.id.slice(0, 8), n.name, n.status, n.role, n.address,
    String(n.resources.cores), `${n.resources.cpuMhz} MHz`, bytes(n.resources.memoryBytes), ago(n.lastHeartbeatAt),
  ]);
  process.stdout.write(table(["ID", "NAME", "STATUS", "ROLE", "ADDRESS", "CORES", "CPU", "MEMORY", "HEARTBEAT"], rows) + "\n");
  return 0;
}
