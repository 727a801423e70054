// `corral job dispatch ID [-meta k=v]... [PAYLOAD_FILE|-]` and `corral job periodic force ID`:
// launch a child of a parameterized or periodic job (docs/jobs.md).
import { readFileSync } from "node:fs";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { clientFlags, clientFrom } from "./shared.ts";

const nsFlag = { namespace: { type: "string" as const, value: "NS", help: "Namespace of the job (default \"default\")" } };
const nsQuery = (args: Parsed) => `?namespace=${encodeURIComponent((args.flags.namespace as string | undefined) ?? "default")}`;

export const jobDispatchSpec: CommandSpec = {
  name: "job dispatch",
  summary: "Dispatch a parameterized job: create a child job with the given meta and payload.",
  usage: "corral job dispatch ID [-meta KEY=VALUE]... [--idempotency-token TOKEN] [PAYLOAD_FILE|-] [--namespace NS] [--addr URL] [--token TOKEN]",
  details: "The payload (a file, or stdin with \"-\", at most 16 KiB) is written into each task's directory as its dispatch_payload file (default \"payload\"). A repeated dispatch with the same --idempotency-token creates nothing and prints the first child.",
  flags: {
    meta: { type: "repeat", value: "KEY=VALUE", help: "A meta value (repeatable); tasks see it as CORRAL_META_<KEY>" },
    "idempotency-token": { type: "string", value: "TOKEN", help: "Dispatch at most once per token" },
    ...nsFlag, ...clientFlags,
  },
};

export const jobPeriodicForceSpec: CommandSpec = {
  name: "job periodic force",
  summary: "Launch a periodic job now, outside its schedule (a child job ID/periodic-<unix time>).",
  usage: "corral job periodic force ID [--namespace NS] [--addr URL] [--token TOKEN]",
  flags: { ...nsFlag, ...clientFlags },
};

/** "k=v" pairs → a record; a pair without "=" is a usage error. */
export function parseMeta(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UsageError(`-meta takes KEY=VALUE, not "${p}"`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export async function jobDispatch(args: Parsed): Promise<number> {
  const [id, file, ...rest] = args.positionals;
  if (!id || rest.length) throw new UsageError("expected a job ID and at most one payload file");
  const body: Record<string, unknown> = { meta: parseMeta((args.flags.meta as string[] | undefined) ?? []) };
  if (file !== undefined) body.payload = (file === "-" ? readFileSync(0) : readFileSync(file)).toString("base64");
  const token = args.flags["idempotency-token"];
  if (typeof token === "string") body.idempotencyToken = token;
  const out = await clientFrom(args).post<{ dispatchedJobId: string; evalId: string; duplicate: boolean }>(`/v1/job/${encodeURIComponent(id)}/dispatch${nsQuery(args)}`, body);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(out.duplicate
    ? `Already dispatched with this token: ${out.dispatchedJobId}\n`
    : `Dispatched Job ID = ${out.dispatchedJobId}\nEvaluation ID     = ${out.evalId}\n`);
  return 0;
}

export async function jobPeriodicForce(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one job ID");
  const out = await clientFrom(args).post<{ childJobId: string; evalId: string }>(`/v1/job/${encodeURIComponent(id)}/periodic/force${nsQuery(args)}`, {});
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(`Launched ${out.childJobId}, evaluation ${out.evalId}\n`);
  return 0;
}
