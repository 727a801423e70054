// `corral deployment list | status ID | promote ID [-group G]... | fail ID`
// (Nomad's `nomad deployment ...`), over /v1/deployments and /v1/deployment/*.
import { listAll, pageFlags } from "../paged.ts";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { table } from "../table.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { deploymentView } from "../../api/deployment-views.ts";
import type { DeploymentRow } from "../../store/schema-jobs.ts";

export type DeploymentJson = ReturnType<typeof deploymentView>;

const nsFlag = { namespace: { type: "string" as const, value: "NS", help: "Only this namespace's deployments" } };

export const deploymentListSpec: CommandSpec = {
  name: "deployment list",
  summary: "List deployments, newest first.",
  usage: "corral deployment list [--namespace NS] [--per-page N] [--page-token TOKEN] [--filter EXPR] [--json] [--addr URL] [--token TOKEN]",
  flags: { ...nsFlag, ...pageFlags, ...clientFlags },
};

export const deploymentStatusSpec: CommandSpec = {
  name: "deployment status",
  summary: "Show one deployment (id or unique prefix): per task group its canaries, placed and healthy allocations, and whether it is promoted.",
  usage: "corral deployment status ID [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

export const deploymentPromoteSpec: CommandSpec = {
  name: "deployment promote",
  summary: "Promote a deployment's canaries (all groups, or those given with -group); refused until every canary is healthy.",
  usage: "corral deployment promote ID [-group G]... [--json] [--addr URL] [--token TOKEN]",
  flags: { group: { type: "repeat", value: "G", help: "A task group to promote (repeatable; default: all)" }, ...clientFlags },
};

export const deploymentFailSpec: CommandSpec = {
  name: "deployment fail",
  summary: "Mark a running deployment failed: its canaries stop; a job with auto_revert rolls back to its last stable version.",
  usage: "corral deployment fail ID [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

function print(v: unknown): number {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
  return 0;
}

function oneId(args: Parsed): string {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one deployment ID");
  return id;
}

/** Per task group: promoted, desired, canaries (placed/desired), placed, healthy, unhealthy (Nomad's "Deployed" table). */
export function deploymentGroupsTable(d: DeploymentJson): string {
  const rows = Object.entries(d.TaskGroups).map(([name, g]) => [
    name, g.DesiredCanaries > 0 ? String(g.Promoted) : "-", g.DesiredTotal,
    g.DesiredCanaries > 0 ? `${g.PlacedCanaries.length}/${g.DesiredCanaries}` : "-", g.PlacedAllocs, g.HealthyAllocs, g.UnhealthyAllocs,
  ]);
  return table(["TASK GROUP", "PROMOTED", "DESIRED", "CANARIES", "PLACED", "HEALTHY", "UNHEALTHY"], rows);
}

/**
 * `job run` stops following a rollout whose healthy canaries wait for a
 * manual promotion (as `nomad job run` does): the message says how to go on.
 * undefined while anything is still coming.
 */
export function awaitingManualPromotion(row: Pick<DeploymentRow, "id" | "status" | "groups">): string | undefined {
  if (row.status !== "running") return undefined;
  const waiting = Object.entries(row.groups ?? {}).filter(([, g]) => (g.desiredCanaries ?? 0) > 0 && !g.promoted);
  if (waiting.length === 0 || waiting.some(([, g]) => g.autoPromote || g.healthy < (g.desiredCanaries ?? 0))) return undefined;
  return `Canaries of ${waiting.map(([n]) => n).join(", ")} are healthy; the deployment waits for promotion: corral deployment promote ${row.id.slice(0, 8)}`;
}

/** What `job status` shows of its latest deployment (the API's row, as GET /v1/job/{id} returns it). */
export function latestDeploymentLines(row: DeploymentRow): string[] {
  const d = deploymentView(row);
  const out = [`Latest deployment ${d.ID.slice(0, 8)} (version ${d.JobVersion}): ${d.Status}${d.StatusDescription ? ` — ${d.StatusDescription}` : ""}`];
  for (const [name, g] of Object.entries(d.TaskGroups)) {
    if (g.DesiredCanaries === 0) continue;
    const healthy = g.Promoted ? "" : `, awaiting promotion (corral deployment promote ${d.ID.slice(0, 8)})`;
    out.push(`  ${name}: canaries ${g.PlacedCanaries.length}/${g.DesiredCanaries} placed, ${g.HealthyAllocs} healthy, promoted: ${g.Promoted}${d.Status === "running" ? healthy : ""}`);
  }
  out.push(deploymentGroupsTable(d));
  return out;
}

export async function deploymentList(args: Parsed): Promise<number> {
  if (args.positionals.length) throw new UsageError("deployment list takes no arguments");
  const ns = args.flags.namespace as string | undefined;
  const list = await listAll<DeploymentJson>(clientFrom(args), "/v1/deployments" + (ns ? `?namespace=${encodeURIComponent(ns)}` : ""), args);
  if (args.flags.json) return print(list);
  if (list.length === 0) {
    process.stdout.write("No deployments.\n");
    return 0;
  }
  const rows = list.map((d) => [d.ID.slice(0, 8), d.Namespace, d.JobID, d.JobVersion, d.Status, d.StatusDescription || "-"]);
  process.stdout.write(table(["ID", "NAMESPACE", "JOB ID", "JOB VERSION", "STATUS", "DESCRIPTION"], rows) + "\n");
  return 0;
}

export async function deploymentStatus(args: Parsed): Promise<number> {
  const d = await clientFrom(args).get<DeploymentJson>(`/v1/deployment/${encodeURIComponent(oneId(args))}`);
  if (args.flags.json) return print(d);
  process.stdout.write([
    `ID          = ${d.ID}`, `Job ID      = ${d.JobID}`, `Namespace   = ${d.Namespace}`, `Job Version = ${d.JobVersion}`,
    `Status      = ${d.Status}`, `Description = ${d.StatusDescription || "-"}`, "", "Deployed", deploymentGroupsTable(d),
  ].join("\n") + "\n");
  return 0;
}

export async function deploymentPromote(args: Parsed): Promise<number> {
  const id = oneId(args);
  const groups = (args.flags.group as string[] | undefined) ?? [];
  const out = await clientFrom(args).post<{ EvalID: string; Promoted: string[] }>(`/v1/deployment/promote/${encodeURIComponent(id)}`, groups.length ? { Groups: groups } : { All: true });
  if (args.flags.json) return print(out);
  process.stdout.write(`Deployment ${id} promoted (${out.Promoted.join(", ") || "no group left"}), evaluation ${out.EvalID}\n`);
  return 0;
}

export async function deploymentFail(args: Parsed): Promise<number> {
  const id = oneId(args);
  const out = await clientFrom(args).post<{ EvalID: string; RevertedJobVersion: number | null }>(`/v1/deployment/fail/${encodeURIComponent(id)}`, {});
  if (args.flags.json) return print(out);
  process.stdout.write(`Deployment ${id} marked as failed${out.RevertedJobVersion !== null ? `; the job reverts to version ${out.RevertedJobVersion}` : ""}, evaluation ${out.EvalID}\n`);
  return 0;
}
