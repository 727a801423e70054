// `corral var put PATH k=v ... [--in json FILE|-] [--check-index N]`,
// `corral var get PATH [--item K]`, `corral var list [PREFIX]`,
// `corral var purge PATH [--check-index N]` (docs/variables.md).
import { listAll, pageFlags } from "../paged.ts";
import { readFileSync } from "node:fs";
import type { CommandSpec, Parsed } from "../args.ts";
import { UsageError } from "../args.ts";
import { ACL_FILTERED_NOTE, ClientError, watchAclFiltering } from "../client.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { table } from "../table.ts";

export const varSpec: CommandSpec = {
  name: "var",
  actions: ["put", "get", "list", "purge"],
  summary: "Read and write variables (encrypted at rest on the leaders).",
  usage: "corral var put PATH K=V... [--in json FILE|-] [--check-index N] | get PATH [--item K] | list [PREFIX] [--per-page N] [--page-token T] [--filter EXPR] | purge PATH [--check-index N]",
  flags: {
    ...clientFlags,
    namespace: { type: "string", value: "NS", help: "the variable's namespace (default: default; list: * for all)" },
    in: { type: "string", value: "json", help: "put: read the items from FILE (or - for standard input) as JSON, {\"Items\":{...}} or {...}" },
    "check-index": { type: "number", value: "N", help: "put/purge only if the variable's ModifyIndex is N (0: put only if it does not exist)" },
    item: { type: "string", value: "K", help: "get: print only this item's value" },
    ...pageFlags,
  },
  details: "put replaces every item of the variable. K=@FILE reads a value from a file. get prints the items as K=V lines (--json for the whole variable).",
};

interface Meta {
  Namespace: string;
  Path: string;
  CreateIndex: number;
  ModifyIndex: number;
  ModifyTime: number;
}
interface Variable extends Meta {
  Items: Record<string, string>;
}

const urlOf = (path: string) => `/v1/var/${path.split("/").map(encodeURIComponent).join("/")}`;

function query(args: Parsed, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  if (args.flags.namespace) q.set("namespace", String(args.flags.namespace));
  if (args.flags["check-index"] !== undefined) q.set("cas", String(args.flags["check-index"]));
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  return q.size ? `?${q}` : "";
}

function itemsFrom(args: Parsed, rest: string[]): Record<string, string> {
  if (args.flags.in !== undefined) {
    if (args.flags.in !== "json") throw new UsageError(`--in takes json, not "${args.flags.in}"`);
    if (rest.length !== 1) throw new UsageError("var put --in json needs one FILE (or - for standard input) after PATH");
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(rest[0] === "-" ? 0 : rest[0]!, "utf8"));
    } catch (err) {
      throw new UsageError(`cannot read items from ${rest[0]}: ${(err as Error).message}`);
    }
    const items = doc && typeof doc === "object" && "Items" in doc ? (doc as { Items: unknown }).Items : doc;
    if (!items || typeof items !== "object" || Array.isArray(items) || Object.values(items).some((v) => typeof v !== "string")) {
      throw new UsageError('the JSON must be {"Items": {"K": "V"}} or {"K": "V"} with string values');
    }
    return items as Record<string, string>;
  }
  if (rest.length === 0) throw new UsageError("var put needs at least one K=V item (or --in json FILE)");
  const items: Record<string, string> = {};
  for (const kv of rest) {
    const at = kv.indexOf("=");
    if (at <= 0) throw new UsageError(`"${kv}" is not K=V`);
    const value = kv.slice(at + 1);
    items[kv.slice(0, at)] = value.startsWith("@") ? readFileSync(value.slice(1), "utf8") : value;
  }
  return items;
}

/** A cas refusal: say what is there now, exit 1. */
async function conflictOrThrow(res: Response, path: string): Promise<number> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string; ModifyIndex?: number };
  if (res.status === 409) {
    process.stderr.write(`corral: not written: ${path}: ${body.error ?? "check-index conflict"}\n`);
    return 1;
  }
  throw new ClientError(res.status, body.code ?? `HTTP_${res.status}`, body.error ?? res.statusText);
}

export async function variable(args: Parsed): Promise<number> {
  const [action, path, ...rest] = args.positionals;
  if (!action) throw new UsageError("var needs an action: put, get, list or purge");
  const client = clientFrom(args);
  const json = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + "\n");
  if (action === "list") {
    const watch = watchAclFiltering();
    try {
      const list = await listAll<Meta>(client, `/v1/vars${query(args, { prefix: path ?? "" })}`, args);
      if (args.flags.json) json(list);
      else process.stdout.write(table(["Namespace", "Path", "Modify Index", "Modified"], list.map((m) => [m.Namespace, m.Path, String(m.ModifyIndex), new Date(m.ModifyTime).toISOString()])) + "\n");
      if (watch.seen()) process.stderr.write(`corral: ${ACL_FILTERED_NOTE}\n`);
    } finally {
      watch.stop();
    }
    return 0;
  }
  if (path === undefined) throw new UsageError(`var ${action} needs a PATH`);
  switch (action) {
    case "put": {
      const res = await client.raw("PUT", urlOf(path) + query(args), { Items: itemsFrom(args, rest) });
      if (!res.ok) return conflictOrThrow(res, path);
      const v = (await res.json()) as Variable;
      if (args.flags.json) json(v);
      else process.stdout.write(`wrote ${v.Path} (ModifyIndex ${v.ModifyIndex})\n`);
      return 0;
    }
    case "get": {
      let v: Variable;
      try {
        v = await client.get<Variable>(urlOf(path) + query(args));
      } catch (err) {
        if (err instanceof ClientError && err.status === 404) {
          process.stderr.write(`corral: no variable ${path}\n`);
          return 1;
        }
        throw err;
      }
      const item = args.flags.item as string | undefined;
      if (item !== undefined) {
        if (!(item in v.Items)) {
          process.stderr.write(`corral: variable ${path} has no item ${item}\n`);
          return 1;
        }
        process.stdout.write(v.Items[item] + "\n");
      } else if (args.flags.json) json(v);
      else for (const [k, val] of Object.entries(v.Items)) process.stdout.write(`${k}=${val}\n`);
      return 0;
    }
    case "purge": {
      const res = await client.raw("DELETE", urlOf(path) + query(args));
      if (!res.ok) return conflictOrThrow(res, path);
      process.stdout.write(`purged ${path}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown var action "${action}" (put, get, list, purge)`);
  }
}
