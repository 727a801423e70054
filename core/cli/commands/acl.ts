// `corral acl bootstrap`, `corral acl token create|list|read|delete`,
// `corral acl policy create|list|read|delete` (Consul's ACL API, docs/acl.md).
import { readFileSync } from "node:fs";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";

interface TokenJson {
  AccessorID: string;
  SecretID: string;
  Description: string;
  Policies: { ID: string; Name: string }[];
  ServiceIdentities: { ServiceName: string }[];
  CreateTime: string;
}

interface PolicyJson {
  ID: string;
  Name: string;
  Description: string;
  Rules?: string;
}

export const aclBootstrapSpec: CommandSpec = {
  name: "acl bootstrap",
  summary: "Create the first management token. Works once per cluster; keep the SecretID it prints.",
  usage: "corral acl bootstrap [--json]",
  flags: { ...clientFlags },
};

export const aclTokenSpec: CommandSpec = {
  name: "acl token",
  actions: ["create", "list", "read", "delete"],
  summary: "Create, list, read or delete ACL tokens.",
  usage: "corral acl token create [--description TEXT] [--policy NAME]... [--service NAME]... | list | read ACCESSOR | delete ACCESSOR [--json]",
  flags: {
    ...clientFlags,
    description: { type: "string", value: "TEXT", help: "what the token is for" },
    policy: { type: "list", value: "NAME", help: "policy to attach by name (repeatable, or comma-separated)" },
    service: { type: "list", value: "NAME", help: "service identity: the token speaks for this service (intentions; write on it)" },
  },
  details: "The SecretID is printed once, by create; reads show it masked.",
};

export const aclPolicySpec: CommandSpec = {
  name: "acl policy",
  actions: ["create", "list", "read", "delete"],
  summary: "Create, list, read or delete ACL policies.",
  usage: "corral acl policy create NAME --rules FILE|- [--description TEXT] | list | read NAME | delete NAME [--json]",
  flags: {
    ...clientFlags,
    rules: { type: "string", value: "FILE", help: "rules file (HCL or JSON); - reads standard input" },
    description: { type: "string", value: "TEXT", help: "what the policy is for" },
  },
  details: 'Rules: key_prefix "app/" { policy = "write" }, service "web" { policy = "read" }, operator = "read" (docs/acl.md).',
};

function printToken(args: Parsed, t: TokenJson): void {
  if (args.flags.json) return void process.stdout.write(JSON.stringify(t, null, 2) + "\n");
  const lines = [
    ["AccessorID:", t.AccessorID], ["SecretID:", t.SecretID], ["Description:", t.Description],
    ["Policies:", t.Policies.map((p) => p.Name).join(", ") || "-"],
    ["Services:", t.ServiceIdentities.map((s) => s.ServiceName).join(", ") || "-"], ["Created:", t.CreateTime],
  ];
  process.stdout.write(table(["", ""], lines).split("\n").slice(1).join("\n") + "\n");
}

export async function aclBootstrap(args: Parsed): Promise<number> {
  printToken(args, await clientFrom(args).put<TokenJson>("/v1/acl/bootstrap"));
  return 0;
}

export async function aclToken(args: Parsed): Promise<number> {
  const [action, id] = args.positionals;
  const client = clientFrom(args);
  switch (action) {
    case "create": {
      const body = {
        Description: (args.flags.description as string | undefined) ?? "",
        Policies: ((args.flags.policy as string[] | undefined) ?? []).map((Name) => ({ Name })),
        ServiceIdentities: ((args.flags.service as string[] | undefined) ?? []).map((ServiceName) => ({ ServiceName })),
      };
      printToken(args, await client.put<TokenJson>("/v1/acl/token", body));
      return 0;
    }
    case "list": {
      const list = await client.get<TokenJson[]>("/v1/acl/tokens");
      if (args.flags.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      else process.stdout.write(table(["ACCESSOR", "DESCRIPTION", "POLICIES", "SERVICES"], list.map((t) => [
        t.AccessorID, t.Description, t.Policies.map((p) => p.Name).join(","), t.ServiceIdentities.map((s) => s.ServiceName).join(","),
      ])) + "\n");
      return 0;
    }
    case "read":
      if (!id) throw new UsageError("acl token read needs an ACCESSOR id");
      printToken(args, await client.get<TokenJson>(`/v1/acl/token/${encodeURIComponent(id)}`));
      return 0;
    case "delete":
      if (!id) throw new UsageError("acl token delete needs an ACCESSOR id");
      await client.delete(`/v1/acl/token/${encodeURIComponent(id)}`);
      process.stdout.write(`deleted token ${id}\n`);
      return 0;
    default:
      throw new UsageError(`unknown acl token action "${action ?? ""}" (create, list, read, delete)`);
  }
}

async function policyByName(client: ReturnType<typeof clientFrom>, name: string): Promise<PolicyJson> {
  return client.get<PolicyJson>(`/v1/acl/policy/name/${encodeURIComponent(name)}`);
}

export async function aclPolicy(args: Parsed): Promise<number> {
  const [action, name] = args.positionals;
  const client = clientFrom(args);
  const print = (p: PolicyJson) => {
    if (args.flags.json) process.stdout.write(JSON.stringify(p, null, 2) + "\n");
    else process.stdout.write(`${p.Name} (${p.ID})${p.Description ? `: ${p.Description}` : ""}\n${p.Rules ?? ""}\n`);
  };
  switch (action) {
    case "create": {
      if (!name) throw new UsageError("acl policy create needs a NAME");
      const file = args.flags.rules as string | undefined;
      if (!file) throw new UsageError("acl policy create needs --rules FILE (or - for standard input)");
      const rules = readFileSync(file === "-" ? 0 : file, "utf8");
      print(await client.put<PolicyJson>("/v1/acl/policy", { Name: name, Description: (args.flags.description as string | undefined) ?? "", Rules: rules }));
      return 0;
    }
    case "list": {
      const list = await client.get<PolicyJson[]>("/v1/acl/policies");
      if (args.flags.json) process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      else process.stdout.write(table(["NAME", "ID", "DESCRIPTION"], list.map((p) => [p.Name, p.ID, p.Description])) + "\n");
      return 0;
    }
    case "read":
      if (!name) throw new UsageError("acl policy read needs a NAME");
      print(await policyByName(client, name));
      return 0;
    case "delete": {
      if (!name) throw new UsageError("acl policy delete needs a NAME");
      const p = await policyByName(client, name);
      await client.delete(`/v1/acl/policy/${encodeURIComponent(p.ID)}`);
      process.stdout.write(`deleted policy ${name}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown acl policy action "${action ?? ""}" (create, list, read, delete)`);
  }
}
