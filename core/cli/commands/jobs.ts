// `corral job status [ID]`, `corral job stop ID`, `corral job plan FILE`.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { parse as parseToml } from "smol-toml";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { failureLines, readJobFile, type AllocJson } from "./job-run.ts";
import { planDiffLines } from "./job-versions.ts";
import type { JobDiff } from "../../scheduler/job-diff.ts";
import { namespaceOfJob, placementFailureBlock } from "./job-find.ts";
import { submittingJobFile } from "../job-file-errors.ts";
import type { FailedGroupLike } from "../../scheduler/placement-failure.ts";
import { latestDeploymentLines } from "./deployment.ts";
import { listAll, pageFlags } from "../paged.ts";

const nsFlag = { namespace: { type: "string" as const, value: "NS", help: "Namespace of the job (default \"default\")" } };

export const jobStatusSpec: CommandSpec = {
  name: "job status",
  summary: "List jobs, or show one job with its deployments and allocations.",
  usage: "corral job status [ID] [--namespace NS] [--per-page N] [--page-token TOKEN] [--filter EXPR] [--json] [--addr URL] [--token TOKEN]",
  details: "Without --namespace, ID is looked up in every namespace the token may read; when it exists in several, say which.",
  flags: { ...nsFlag, ...pageFlags, ...clientFlags },
};

export const jobStopSpec: CommandSpec = {
  name: "job stop",
  summary: "Stop a job: its allocations are stopped (SIGTERM, then SIGKILL after kill_timeout).",
  usage: "corral job stop ID [--purge] [--namespace NS] [--addr URL] [--token TOKEN]",
  flags: { purge: { type: "boolean", help: "Also forget the job" }, ...nsFlag, ...clientFlags },
};

export const jobPlanSpec: CommandSpec = {
  name: "job plan",
  summary: "Dry run: the diff against the running version, what happens to each allocation, where new ones would go and why some cannot be placed. Nothing changes.",
  usage: "corral job plan FILE [--json] [--addr URL] [--token TOKEN]",
  details: "Prints the job modify index for `corral job run --check-index N FILE`. Exit status: 0 when everything can be placed, 1 when something cannot (or on an error).",
  flags: { ...clientFlags },
};

interface JobListJson {
  id: string;
  namespace: string;
  type: string;
  priority: number;
  status: string;
  version: number;
  allocations: Record<string, number>;
}

const nsQuery = (args: Parsed) => `?namespace=${encodeURIComponent((args.flags.namespace as string | undefined) ?? "default")}`;

export async function jobStatus(args: Parsed): Promise<number> {
  const client = clientFrom(args);
  const id = args.positionals[0];
  if (!id) {
    const list = await listAll<JobListJson>(client, "/v1/jobs" + (args.flags.namespace ? nsQuery(args) : ""), args);
    if (args.flags.json) return print(list);
    if (list.length === 0) {
      process.stdout.write("No jobs.\n");
      return 0;
    }
    const rows = list.map((j) => [j.id, j.namespace, j.type, j.priority, j.status, j.version, `${j.allocations.running}/${j.allocations.pending}/${j.allocations.failed}`]);
    process.stdout.write(table(["ID", "NAMESPACE", "TYPE", "PRIORITY", "STATUS", "VERSION", "RUNNING/PENDING/FAILED"], rows) + "\n");
    return 0;
  }
  const path = `/v1/job/${encodeURIComponent(id)}`;
  const ns = `?namespace=${encodeURIComponent(await namespaceOfJob(client, id, args.flags.namespace as string | undefined))}`;
  const job = await client.get<Record<string, any>>(path + ns);
  const allocs = await client.get<AllocJson[]>(`${path}/allocations${ns}`);
  if (args.flags.json) return print({ ...job, allocationList: allocs });
  const out = [
    `ID        ${job.id}`, `Namespace ${job.namespace}`, `Type      ${job.type}`, `Priority  ${job.priority}`,
    `Status    ${job.status}${job.stop ? " (stopped)" : ""}`, `Version   ${job.version}${job.stableVersion !== null ? ` (stable: ${job.stableVersion})` : ""}`,
  ];
  if (job.spec?.periodic) {
    const p = job.spec.periodic;
    out.push(`Periodic  ${p.crons.join(", ")} (${p.timeZone})${p.prohibitOverlap ? ", no overlap" : ""}`);
    out.push(`Next      ${job.nextLaunch ? new Date(job.nextLaunch).toISOString() : "none"}`);
  }
  if (job.spec?.parameterized) {
    const p = job.spec.parameterized;
    out.push(`Dispatch  payload ${p.payload}; meta required: ${p.metaRequired.join(", ") || "none"}; optional: ${p.metaOptional.join(", ") || "none"}`);
  }
  if (job.children) {
    out.push("", job.spec?.periodic ? "Previously launched jobs" : "Dispatched jobs");
    out.push(job.children.length ? table(["ID", "STATUS", "SUBMITTED"], job.children.map((c: any) => [c.id, c.status, new Date(c.submittedAt).toISOString()])) : "(none)");
  }
  const dep = job.deployments?.[0];
  if (dep) out.push("", ...latestDeploymentLines(dep));
  out.push(...placementFailureBlock(job.placementFailure));
  out.push("", "Allocations");
  out.push(allocTable(allocs));
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}

export function allocTable(allocs: AllocJson[]): string {
  if (allocs.length === 0) return "(none)";
  const rows = allocs.map((a) => [
    a.id.slice(0, 8), `${a.groupName}[${a.taskGroupIndex}]`, a.nodeName ?? a.nodeId.slice(0, 8), a.jobVersion, a.desiredStatus, a.clientStatus,
    a.health || "-", Object.values(a.taskStates).reduce((n, t) => n + t.restarts, 0), a.ports.map((p) => `${p.label}=${p.value}`).join(",") || "-",
  ]);
  return table(["ID", "GROUP", "NODE", "VERSION", "DESIRED", "STATUS", "HEALTH", "RESTARTS", "PORTS"], rows);
}

export async function jobStop(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one job ID");
  const q = nsQuery(args) + (args.flags.purge ? "&purge" : "");
  const out = await clientFrom(args).delete<{ evalId: string }>(`/v1/job/${encodeURIComponent(id)}${q}`);
  if (args.flags.json) return print(out);
  process.stdout.write(`Job "${id}" ${args.flags.purge ? "stopped and purged" : "stopped"}, evaluation ${out.evalId}\n`);
  return 0;
}

interface PlanJson {
  blocked: boolean;
  placements: { group: string; taskGroupIndex: number; nodeName: string; resources: { cpuMhz: number; memoryMb: number }; ports: { label: string; value: number }[]; preempted?: string[] }[];
  stops: { allocId: string; group: string; nodeName: string; message: string }[];
  diff?: JobDiff;
  changed?: boolean;
  jobModifyIndex?: number;
  annotations?: { allocations: { action: string; group: string; taskGroupIndex: number; allocId: string; nodeName: string; jobVersion: number }[] };
  failedGroups: FailedGroupLike[];
}

export async function jobPlan(args: Parsed): Promise<number> {
  const file = args.positionals[0];
  if (!file || args.positionals.length > 1) throw new UsageError("expected one FILE");
  const { body, contentType } = readJobFile(file);
  const id = jobIdOf(body, contentType);
  const plan = await submittingJobFile(file, body, contentType, () =>
    clientFrom(args).request<PlanJson>("POST", `/v1/job/${encodeURIComponent(id)}/plan`, body, contentType));
  if (typeof plan === "number") return plan; // refused: every problem printed, located in the file
  if (args.flags.json) {
    print(plan);
    return plan.blocked ? 1 : 0;
  }
  const lines: string[] = [];
  const extra = planDiffLines(plan, file);
  if (extra.diff.length) lines.push(...extra.diff, "");
  if (plan.annotations?.allocations.some((a) => a.action !== "ignore")) {
    lines.push("Allocations:", table(["ACTION", "GROUP", "ALLOCATION", "NODE", "VERSION"], plan.annotations.allocations.filter((a) => a.action !== "ignore").map((a) => [
      a.action, `${a.group}[${a.taskGroupIndex}]`, a.allocId ? a.allocId.slice(0, 8) : "-", a.nodeName, a.jobVersion < 0 ? "-" : a.jobVersion,
    ])), "");
  }
  if (plan.placements.length) {
    lines.push("Placements:", table(["GROUP", "NODE", "CPU", "MEMORY", "PORTS", "PREEMPTS"], plan.placements.map((p) => [
      `${p.group}[${p.taskGroupIndex}]`, p.nodeName, `${p.resources.cpuMhz} MHz`, `${p.resources.memoryMb} MB`,
      p.ports.map((x) => `${x.label}=${x.value}`).join(",") || "-", p.preempted?.length ? p.preempted.map((v) => v.slice(0, 8)).join(",") : "-",
    ])));
  }
  if (plan.stops.length) lines.push("Stops:", ...plan.stops.map((s) => `  ${s.allocId.slice(0, 8)} ${s.group} on ${s.nodeName}: ${s.message}`));
  if (plan.failedGroups.length) lines.push("Cannot place:", ...failureLines(plan));
  // An unchanged document may still place (a failed allocation) or stop: "no changes" only when nothing happens at all.
  if (lines.length === 0 || (plan.changed === false && !plan.placements.length && !plan.stops.length)) lines.push("No changes: the job runs as planned.");
  if (extra.hint.length) lines.push("", ...extra.hint);
  process.stdout.write(lines.join("\n") + "\n");
  return plan.blocked ? 1 : 0;
}

/** The job's id from its document (for the plan route's path); the server validates the rest. */
function jobIdOf(body: string, contentType: string): string {
  let id: unknown;
  try {
    id = (contentType.includes("json") ? JSON.parse(body) : parseToml(body))?.id;
  } catch (err) {
    throw new UsageError(`the job file does not parse: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof id !== "string" || !id) throw new UsageError("the job file has no id");
  return id;
}

function print(v: unknown): number {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
  return 0;
}
