// `corral kv get KEY [--recurse]`, `corral kv put KEY VALUE|-`, `corral kv delete KEY [--recurse]`.
import { readFileSync } from "node:fs";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { ClientError } from "../client.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const kvSpec: CommandSpec = {
  name: "kv",
  actions: ["get", "put", "delete"],
  summary: "Read and write the KV store.",
  usage: "corral kv get KEY [--recurse] | put KEY VALUE|- [--cas N] [--flags N] | delete KEY [--recurse]",
  flags: {
    ...clientFlags,
    recurse: { type: "boolean", help: "get or delete every key under KEY as a prefix" },
    cas: { type: "number", value: "N", help: "put only if the key's ModifyIndex is N (0: only if absent)" },
    flags: { type: "number", value: "N", help: "opaque flags stored with the value" },
  },
  details: "put with VALUE '-' reads the value from standard input.",
};

interface Entry {
  Key: string;
  Value: string | null;
  Flags: number;
  ModifyIndex: number;
}

const path = (key: string) => `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;

export async function kv(args: Parsed): Promise<number> {
  const [action, key, value] = args.positionals;
  if (!action || key === undefined) throw new UsageError("kv needs an action and a KEY");
  const client = clientFrom(args);
  const decode = (e: Entry) => (e.Value === null ? "" : Buffer.from(e.Value, "base64").toString());
  switch (action) {
    case "get": {
      let entries: Entry[];
      try {
        entries = await client.get<Entry[]>(path(key) + (args.flags.recurse ? "?recurse" : ""));
      } catch (err) {
        if (err instanceof ClientError && err.status === 404) {
          process.stderr.write(`corral: no key ${key}\n`);
          return 1;
        }
        throw err;
      }
      if (args.flags.json) process.stdout.write(JSON.stringify(entries, null, 2) + "\n");
      else if (args.flags.recurse) for (const e of entries) process.stdout.write(`${e.Key}: ${decode(e)}\n`);
      else process.stdout.write(decode(entries[0]!) + "\n");
      return 0;
    }
    case "put": {
      if (value === undefined) throw new UsageError("kv put needs a VALUE (or - for standard input)");
      const body = value === "-" ? readFileSync(0) : value;
      const q = new URLSearchParams();
      if (args.flags.cas !== undefined) q.set("cas", String(args.flags.cas));
      if (args.flags.flags !== undefined) q.set("flags", String(args.flags.flags));
      const ok = await client.request<boolean>("PUT", path(key) + (q.size ? `?${q}` : ""), body, "application/octet-stream");
      process.stdout.write(ok ? `wrote ${key}\n` : `not written: ${key} changed (cas)\n`);
      return ok ? 0 : 1;
    }
    case "delete": {
      await client.delete(path(key) + (args.flags.recurse ? "?recurse" : ""));
      process.stdout.write(`deleted ${key}${args.flags.recurse ? " (recursively)" : ""}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown kv action "${action}" (get, put, delete)`);
  }
}
