// `corral system gc`: garbage-collect now (PUT /v1/system/gc): every dead job,
// finished evaluation, terminal allocation and finished deployment, and every
// down node with no live allocation, whatever the leader's thresholds (docs/jobs.md#garbage-collection).
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { clientFlags, clientFrom } from "./shared.ts";

export const systemGcSpec: CommandSpec = {
  name: "system gc",
  summary: "Garbage-collect now: dead jobs, finished evaluations and deployments, terminal allocations, down nodes with nothing live, deleted KV keys', catalog entries' and variables' tombstones (thresholds ignored).",
  usage: "corral system gc [--json] [--addr URL] [--token TOKEN]",
  details: "Needs operator:write. The leader does the same every leader.job_gc_interval for what is older than its thresholds.",
  flags: { ...clientFlags },
};

export async function systemGc(args: Parsed): Promise<number> {
  if (args.positionals.length) throw new UsageError("system gc takes no arguments");
  const out = await clientFrom(args).put<{ jobs: number; evals: number; allocs: number; deployments: number; nodes: number; tombstones?: number; catalogTombstones?: number; variableTombstones?: number }>("/v1/system/gc");
  if (args.flags.json) process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  else process.stdout.write(`Collected ${out.jobs} jobs, ${out.evals} evaluations, ${out.allocs} allocations, ${out.deployments} deployments, ${out.nodes} nodes, ${out.tombstones ?? 0} KV tombstones, ${out.catalogTombstones ?? 0} catalog tombstones, ${out.variableTombstones ?? 0} variable tombstones\n`);
  return 0;
}
