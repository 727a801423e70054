// `corral job run FILE`: register a job and follow it until every
// allocation of the new version runs (and, for a service, its deployment is
// healthy), or something fails. Exit 0 on success, 1 on a failure, a
// blocked placement or the timeout; --detach returns right after
// registering.
import { awaitingManualPromotion } from "./deployment.ts";
import type { DeploymentRow } from "../../store/schema-jobs.ts";
import { readFileSync } from "node:fs";
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { Progress, progressBar } from "../progress.ts";
import { parseDuration } from "../../config/duration.ts";
import { groupHash } from "../../cluster/scheduling/views.ts";
import type { Job } from "../../scheduler/index.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { submittingJobFile } from "../job-file-errors.ts";
import { isSystemType, runsToCompletion } from "../../scheduler/jobspec/types.ts";
import { placementFailureText, toFailedTGAllocs, type FailedGroupLike } from "../../scheduler/placement-failure.ts";

export const jobRunSpec: CommandSpec = {
  name: "job run",
  summary: "Register a job from a TOML or JSON file and wait until its allocations run (healthy) or fail.",
  usage: "corral job run FILE [--detach] [--timeout 5m] [--check-index N] [--addr URL] [--token TOKEN]",
  details: "FILE is a job document (docs/jobs.md): JSON when it ends in .json, TOML otherwise. With --check-index N (the index `job plan` printed) the job is registered only if it has not changed since (0: only if it does not exist yet); otherwise nothing changes and the exit status is 1.",
  flags: {
    detach: { type: "boolean", help: "Return once the job is registered" },
    "check-index": { type: "number", value: "N", help: "Register only if the job's modify index is still N (0: a new job)" },
    timeout: { type: "string", value: "DURATION", help: "Give up waiting after this long (default 5m)" },
    ...clientFlags,
  },
};

export interface AllocJson {
  id: string;
  jobVersion: number;
  groupName: string;
  /** Hash of the group's tasks when placed: an update that leaves it unchanged keeps the allocation (with its old jobVersion). */
  groupHash: string;
  taskGroupIndex: number;
  nodeId: string;
  nodeName: string | null;
  desiredStatus: string;
  desiredDescription: string;
  clientStatus: string;
  clientDescription: string;
  health: string;
  ports: { task: string; label: string; value: number }[];
  taskStates: Record<string, { state: string; restarts: number; ooms: number; oom: boolean; events: { at: number; type: string; message: string }[] }>;
}

interface JobJson {
  type: string;
  version: number;
  spec: Job;
  deployments: { jobVersion: number; status: string; statusDescription: string }[];
}

interface EvalJson {
  status: string;
  statusDescription: string;
  failedGroups: FailedGroupLike[];
}

export function parseTimeoutMs(v: unknown, fallbackMs: number): number {
  if (v === undefined) return fallbackMs;
  let ms: number;
  try {
    ms = parseDuration(String(v));
  } catch {
    ms = NaN;
  }
  if (!(ms > 0)) throw new UsageError(`--timeout takes a duration such as "90s", "5m" or "1h30m", not "${String(v)}"`);
  return Math.round(ms);
}

export function readJobFile(file: string): { body: string; contentType: string } {
  let body: string;
  try {
    body = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { body, contentType: file.endsWith(".json") ? "application/json" : "application/toml" };
}

/** Placement failures of an evaluation: Nomad's "Placement Failure" block per group (core/scheduler/placement-failure.ts). */
export function failureLines(ev: Pick<EvalJson, "failedGroups">): string[] {
  return placementFailureText(toFailedTGAllocs(ev.failedGroups)).map((l) => "  " + l);
}

export async function jobRun(args: Parsed): Promise<number> {
  const file = args.positionals[0];
  if (!file || args.positionals.length > 1) throw new UsageError("expected one FILE");
  const timeoutMs = parseTimeoutMs(args.flags.timeout, 5 * 60_000);
  const { body, contentType } = readJobFile(file);
  const client = clientFrom(args);
  const check = args.flags["check-index"] as number | undefined;
  if (check !== undefined && (!Number.isInteger(check) || check < 0)) throw new UsageError("--check-index takes a whole number (0: the job must not exist)");
  const path = check === undefined ? "/v1/jobs" : `/v1/jobs?JobModifyIndex=${check}`;
  const reg = await submittingJobFile(file, body, contentType, () =>
    client.request<{ jobId: string; namespace: string; evalId: string; version: number }>("POST", path, body, contentType));
  if (typeof reg === "number") return reg; // refused: every problem printed, located in the file
  if (args.flags.json && args.flags.detach) {
    process.stdout.write(JSON.stringify(reg) + "\n");
    return 0;
  }
  process.stdout.write(`Job "${reg.jobId}" registered (version ${reg.version}), evaluation ${reg.evalId}\n`);
  if (args.flags.detach) return 0;
  return monitor(client, reg, Date.now() + timeoutMs);
}

async function monitor(client: ApiClient, reg: { jobId: string; namespace: string; evalId: string; version: number }, deadline: number): Promise<number> {
  const progress = new Progress();
  const q = `?namespace=${encodeURIComponent(reg.namespace)}`;
  const jobPath = `/v1/job/${encodeURIComponent(reg.jobId)}`;
  let index = 0;
  while (Date.now() < deadline) {
    const ev = await client.get<EvalJson>(`/v1/evaluation/${reg.evalId}`);
    if (ev.status === "blocked" || ev.status === "failed") {
      progress.done(`Evaluation ${ev.status}: ${ev.statusDescription}`);
      for (const l of failureLines(ev)) process.stdout.write(l + "\n");
      if (ev.status === "blocked") process.stdout.write("The job stays registered: the rest is placed when capacity frees.\n");
      return 1;
    }
    const job = await client.get<JobJson>(jobPath + q);
    // A periodic or parameterized job is a template: nothing of it runs until a launch.
    if (job.spec.periodic || job.spec.parameterized) {
      progress.done(job.spec.periodic
        ? `Periodic job: each launch (cron ${job.spec.periodic.crons.join(", ")}, ${job.spec.periodic.timeZone}) runs as a child job ${reg.jobId}/periodic-<unix time>.`
        : `Parameterized job: run it with \`corral job dispatch ${reg.jobId}\`.`);
      return 0;
    }
    const res = await client.raw("GET", `${jobPath}/allocations${q}&index=${index}&wait=2s`);
    index = Number(res.headers.get("x-corral-index") ?? index);
    const allocs = (await res.json()) as AllocJson[];
    const verdict = judge(job, allocs, reg.version, ev.status);
    progress.update(verdict.line);
    if (verdict.done !== undefined) {
      progress.done();
      for (const l of verdict.details) process.stdout.write(l + "\n");
      return verdict.done ? 0 : 1;
    }
  }
  progress.done("Timed out waiting for the job; it keeps running (see `corral job status`).");
  return 1;
}

/**
 * Where the rollout of the registered `version` stands: the progress line,
 * and done=true/false once it succeeded or failed. A newer version (an
 * auto_revert rollback, or someone else's update) ends the wait.
 */
export function judge(job: JobJson, allocs: AllocJson[], version: number, evalStatus: string): { line: string; done?: boolean; details: string[] } {
  // Current allocations as the scheduler and the deployment count them: by
  // the group's task hash, not by jobVersion. An update that leaves a group's
  // tasks alone keeps its allocations at their old jobVersion; counting by
  // version left the bar at 1/3 while the deployment said "3 healthy".
  const hashes = new Map(job.spec.groups.map((g) => [g.name, groupHash(job.spec, g)]));
  const current = allocs.filter((a) => a.desiredStatus === "run" && (a.jobVersion === version || a.groupHash === hashes.get(a.groupName)));
  // system and sysbatch jobs want one allocation per eligible node: as many as the evaluation placed.
  const want = isSystemType(job.type) ? current.length : job.spec.groups.reduce((n, g) => n + g.count, 0);
  const noHealthGate = runsToCompletion(job.type) || job.type === "system";
  const running = current.filter((a) => a.clientStatus === "running" || a.clientStatus === "complete").length;
  const healthy = current.filter((a) => a.health === "healthy" || (noHealthGate && a.clientStatus !== "pending")).length;
  const failed = allocs.filter((a) => a.jobVersion === version && (a.clientStatus === "failed" || a.health === "unhealthy"));
  const line = `${progressBar(runsToCompletion(job.type) ? running : healthy, want)} ${running} running, ${healthy} healthy`;
  const dep = job.deployments.find((d) => d.jobVersion === version);
  const failLines = failed.map((a) => `  ${a.id.slice(0, 8)} ${a.groupName}[${a.taskGroupIndex}] on ${a.nodeName ?? a.nodeId}: ${a.clientStatus}${a.health === "unhealthy" ? " (unhealthy)" : ""} ${a.clientDescription}`);
  const newer = job.version > version ? [`The job is now at version ${job.version} (an auto_revert rollback, or a newer registration).`] : [];
  if (dep?.status === "failed") return { line, done: false, details: [`Deployment failed: ${dep.statusDescription}`, ...failLines, ...newer] };
  if (dep?.status === "successful") return { line, done: true, details: [`Deployment successful: ${want} allocation(s) healthy`] };
  const promote = dep ? awaitingManualPromotion(dep as unknown as DeploymentRow) : undefined;
  if (promote) return { line, done: true, details: [promote] };
  if (newer.length || dep?.status === "cancelled") return { line, done: false, details: [`Version ${version} was superseded.`, ...newer] };
  if (runsToCompletion(job.type) && failed.length) return { line, done: false, details: ["Allocation(s) failed:", ...failLines] };
  if (!dep && evalStatus === "complete" && running >= want && (noHealthGate || healthy >= want)) {
    return { line, done: true, details: [`${want} allocation(s) running`] };
  }
  return { line, details: [] };
}
