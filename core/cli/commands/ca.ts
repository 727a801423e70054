// `corral operator ca roots|rotate`: the service mesh's CA (docs/mesh.md).
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { table } from "../table.ts";

export const operatorCaSpec: CommandSpec = {
  name: "operator ca",
  actions: ["roots", "rotate"],
  summary: "List the mesh CA's roots or rotate its root.",
  usage: "corral operator ca roots | rotate",
  flags: { ...clientFlags },
  details: "rotate makes a new active root, cross-signed by the current one; the old root stays trusted until every leaf it signed has expired.",
};

interface Roots {
  ActiveRootID: string;
  TrustDomain: string;
  Roots: { ID: string; Name: string; Active: boolean; NotAfter: string; IntermediateCerts: string[] }[];
}

export async function operatorCa(args: Parsed): Promise<number> {
  const [action] = args.positionals;
  const client = clientFrom(args);
  let roots: Roots;
  if (action === "roots") roots = await client.get<Roots>("/v1/connect/ca/roots");
  else if (action === "rotate") roots = await client.post<Roots>("/v1/operator/connect/ca/rotate");
  else throw new UsageError("use: operator ca roots | rotate");
  if (args.flags.json) process.stdout.write(JSON.stringify(roots, null, 2) + "\n");
  else {
    process.stdout.write(`trust domain ${roots.TrustDomain}\n`);
    process.stdout.write(table(["Root", "Name", "Active", "Cross-signed", "Not after"], roots.Roots.map((r) => [r.ID, r.Name, r.Active ? "yes" : "", r.IntermediateCerts.length ? "yes" : "", r.NotAfter])) + "\n");
  }
  return 0;
}
