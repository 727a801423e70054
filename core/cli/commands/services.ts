// `corral services`, `corral service register FILE`, `corral service
// deregister ID`, `corral catalog nodes`: the discovery plugin's
// Consul-compatible API, for people.
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const servicesSpec: CommandSpec = {
  name: "services",
  summary: "List services with their passing/warning/critical instance counts and tags.",
  usage: "corral services [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

export const serviceRegisterSpec: CommandSpec = {
  name: "service register",
  summary: "Register a service on the node at --addr from a JSON or TOML service definition.",
  usage: "corral service register FILE [--addr URL] [--token TOKEN]",
  details: [
    "FILE holds Consul's service definition fields (name, id, tags, address, port, meta, check, checks...),",
    'either bare or under a "service" key, in JSON (.json) or TOML (anything else). Field names match',
    "case-insensitively and in snake_case, as Consul's do. The service belongs to that node's agent.",
  ].join("\n"),
  flags: { addr: clientFlags.addr!, token: clientFlags.token! },
};

export const serviceDeregisterSpec: CommandSpec = {
  name: "service deregister",
  summary: "Remove a service (by service ID) from the node at --addr.",
  usage: "corral service deregister ID [--addr URL] [--token TOKEN]",
  flags: { addr: clientFlags.addr!, token: clientFlags.token! },
};

export const catalogNodesSpec: CommandSpec = {
  name: "catalog nodes",
  summary: "List the nodes of the service catalog.",
  usage: "corral catalog nodes [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

interface HealthEntry {
  Checks: { Status: string }[];
}

interface ServiceSummary {
  name: string;
  tags: string[];
  passing: number;
  warning: number;
  critical: number;
}

const worst = (e: HealthEntry) =>
  e.Checks.some((c) => c.Status === "critical") ? "critical" : e.Checks.some((c) => c.Status === "warning") ? "warning" : "passing";

export async function services(args: Parsed): Promise<number> {
  const client = clientFrom(args);
  const names = await client.get<Record<string, string[]>>("/v1/catalog/services");
  const list: ServiceSummary[] = [];
  for (const [name, tags] of Object.entries(names)) {
    const entries = await client.get<HealthEntry[]>(`/v1/health/service/${encodeURIComponent(name)}`);
    const s: ServiceSummary = { name, tags, passing: 0, warning: 0, critical: 0 };
    for (const e of entries) s[worst(e)]++;
    list.push(s);
  }
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return 0;
  }
  if (list.length === 0) {
    process.stdout.write("No services.\n");
    return 0;
  }
  const rows = list.map((s) => [s.name, s.passing, s.warning, s.critical, s.tags.join(",") || "-"]);
  process.stdout.write(table(["SERVICE", "PASSING", "WARNING", "CRITICAL", "TAGS"], rows) + "\n");
  return 0;
}

/** Reads a service definition file: JSON or TOML, bare or under `service`. */
export function readServiceDefinition(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = /\.json$/i.test(file) || /^\s*\{/.test(text) ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    throw new Error(`${file} is not valid ${/\.json$/i.test(file) ? "JSON" : "JSON or TOML"}: ${(err as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new Error(`${file}: expected an object`);
  const obj = data as Record<string, unknown>;
  const wrapped = Object.keys(obj).find((k) => k.toLowerCase() === "service");
  const def = wrapped && typeof obj[wrapped] === "object" && !Array.isArray(obj[wrapped]) ? obj[wrapped] : obj;
  return def as Record<string, unknown>;
}

export async function serviceRegister(args: Parsed): Promise<number> {
  const [file, ...extra] = args.positionals;
  if (!file || extra.length) throw new UsageError("expected exactly one FILE");
  const def = readServiceDefinition(file);
  await clientFrom(args).put("/v1/agent/service/register", def);
  const name = String(def.name ?? def.Name ?? "");
  const id = String(def.id ?? def.ID ?? def.Id ?? name);
  process.stdout.write(`Registered service ${id}${name && name !== id ? ` (${name})` : ""}\n`);
  return 0;
}

export async function serviceDeregister(args: Parsed): Promise<number> {
  const [id, ...extra] = args.positionals;
  if (!id || extra.length) throw new UsageError("expected exactly one service ID");
  await clientFrom(args).put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`);
  process.stdout.write(`Deregistered service ${id}\n`);
  return 0;
}

interface ConsulNode {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
}

export async function catalogNodes(args: Parsed): Promise<number> {
  const list = await clientFrom(args).get<ConsulNode[]>("/v1/catalog/nodes");
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return 0;
  }
  if (list.length === 0) {
    process.stdout.write("No nodes.\n");
    return 0;
  }
  const rows = list.map((n) => [n.Node, n.ID.slice(0, 8), n.Address, n.Datacenter]);
  process.stdout.write(table(["NODE", "ID", "ADDRESS", "DC"], rows) + "\n");
  return 0;
}
