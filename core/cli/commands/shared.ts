// Flags every API-calling command takes.
import type { FlagSpec, Parsed } from "../args.ts";
import { ApiClient } from "../client.ts";

export const clientFlags: Record<string, FlagSpec> = {
  json: { type: "boolean", help: "Print JSON instead of a table" },
  addr: { type: "string", value: "URL", help: "corral API address (default $CORRAL_ADDR or http://127.0.0.1:7700)" },
  token: { type: "string", value: "TOKEN", help: "ACL token (default $CORRAL_TOKEN)" },
};

export function clientFrom(args: Parsed): ApiClient {
  return new ApiClient({ addr: args.flags.addr as string | undefined, token: args.flags.token as string | undefined });
}
