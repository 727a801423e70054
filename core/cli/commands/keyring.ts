// `corral operator keyring list|rotate [--full]`: the variables keyring (docs/variables.md).
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { table } from "../table.ts";

export const operatorKeyringSpec: CommandSpec = {
  name: "operator keyring",
  actions: ["list", "rotate"],
  summary: "List or rotate the keys that encrypt variables.",
  usage: "corral operator keyring list | rotate [--full]",
  flags: { ...clientFlags, full: { type: "boolean", help: "rotate: also re-encrypt every variable with the new key" } },
  details: "rotate makes a new active key; older keys stay and still decrypt the variables they encrypted until a --full rotation re-encrypts them.",
};

export async function operatorKeyring(args: Parsed): Promise<number> {
  const [action] = args.positionals;
  const client = clientFrom(args);
  if (action === "list") {
    const keys = await client.get<{ KeyID: string; Active: boolean; CreateIndex: number; CreateTime: number }[]>("/v1/operator/keyring/keys");
    if (args.flags.json) process.stdout.write(JSON.stringify(keys, null, 2) + "\n");
    else process.stdout.write(table(["Key", "Active", "Created"], keys.map((k) => [k.KeyID, k.Active ? "yes" : "", new Date(k.CreateTime).toISOString()])) + "\n");
    return 0;
  }
  if (action === "rotate") {
    const r = await client.post<{ KeyID: string; Reencrypted: number; Skipped: number }>(`/v1/operator/keyring/rotate${args.flags.full ? "?full" : ""}`);
    if (args.flags.json) process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    else process.stdout.write(`new active key ${r.KeyID}${args.flags.full ? `; re-encrypted ${r.Reencrypted} variables${r.Skipped ? `, ${r.Skipped} changed meanwhile (already on the new key)` : ""}` : ""}\n`);
    return 0;
  }
  throw new UsageError("use: operator keyring list | rotate [--full]");
}
