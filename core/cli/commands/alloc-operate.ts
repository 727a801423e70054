// Operating allocations: `corral alloc restart|signal|stop ID` and the
// rolling `corral job restart ID` (Nomad's command/alloc_restart.go,
// alloc_signal.go, alloc_stop.go and job_restart.go). ID is a full
// allocation id or a unique prefix, as `alloc status` takes.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { parseTimeoutMs, type AllocJson } from "./job-run.ts";

const conn = { addr: clientFlags.addr!, token: clientFlags.token! };

export const allocRestartSpec: CommandSpec = {
  name: "alloc restart",
  summary: "Restart an allocation's tasks in place (same allocation, new processes); --task one task, --all-tasks re-runs prestart tasks too.",
  usage: "corral alloc restart ID [TASK] [--task T | --all-tasks] [--addr URL] [--token TOKEN]",
  details: "Without --task every running task restarts. A restart asked for does not count against the group's restart policy.",
  flags: {
    task: { type: "string", value: "T", help: "Restart only this task" },
    "all-tasks": { type: "boolean", help: "Restart every task, running the lifecycle again (prestart tasks before the main ones)" },
    ...conn,
  },
};

export const allocSignalSpec: CommandSpec = {
  name: "alloc signal",
  summary: "Send a signal to an allocation's tasks (default SIGKILL, as Nomad).",
  usage: "corral alloc signal ID [TASK] [-s SIGNAL] [--task T] [--addr URL] [--token TOKEN]",
  details: "SIGNAL is a name such as SIGHUP, SIGUSR1 or USR1. Without --task every running task gets it.",
  flags: {
    signal: { type: "string", short: "s", value: "SIGNAL", help: "The signal (default SIGKILL)" },
    task: { type: "string", value: "T", help: "Signal only this task" },
    ...conn,
  },
};

export const allocStopSpec: CommandSpec = {
  name: "alloc stop",
  summary: "Stop an allocation; the scheduler places a replacement (elsewhere if need be).",
  usage: "corral alloc stop ID [--addr URL] [--token TOKEN]",
  flags: { ...conn },
};

export const jobRestartSpec: CommandSpec = {
  name: "job restart",
  summary: "Restart a job's allocations in batches, each batch running again before the next (default batch: the group's update.max_parallel).",
  usage: "corral job restart ID [--batch-size N] [--reschedule] [--namespace NS] [--timeout 10m] [--addr URL] [--token TOKEN]",
  details: "Tasks restart in place (same allocations) unless --reschedule: then each allocation is stopped and replaced by a new one, possibly on another node.",
  flags: {
    "batch-size": { type: "string", value: "N", help: "Allocations restarted at once" },
    reschedule: { type: "boolean", help: "Replace the allocations instead of restarting their tasks in place" },
    namespace: { type: "string", value: "NS", help: "Namespace of the job (default \"default\")" },
    timeout: { type: "string", value: "DURATION", help: "Give up waiting for a batch after this long (default 10m)" },
    ...conn,
  },
};

function oneId(args: Parsed): string {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one allocation ID");
  return id;
}

/** ID and the task, given as --task or (as Nomad takes it) a second word. */
function idAndTask(args: Parsed): { id: string; task?: string } {
  const [id, word, ...more] = args.positionals;
  if (!id || more.length) throw new UsageError("expected an allocation ID and at most one task name");
  const flag = args.flags.task as string | undefined;
  if (word && flag && word !== flag) throw new UsageError(`two tasks given: "${word}" and --task "${flag}"`);
  return { id, task: flag ?? word };
}

const allocPath = (id: string) => encodeURIComponent(id);

export async function allocRestart(args: Parsed): Promise<number> {
  const { id, task } = idAndTask(args);
  if (task && args.flags["all-tasks"]) throw new UsageError("--task and --all-tasks exclude each other");
  const out = await clientFrom(args).put<{ allocId: string; tasks: string[] }>(`/v1/client/allocation/${allocPath(id)}/restart`, {
    ...(task ? { TaskName: task } : {}), ...(args.flags["all-tasks"] ? { AllTasks: true } : {}),
  });
  process.stdout.write(`Restarted ${out.tasks.map((t) => `"${t}"`).join(", ")} of allocation ${out.allocId}\n`);
  return 0;
}

export async function allocSignal(args: Parsed): Promise<number> {
  const { id, task } = idAndTask(args);
  const signal = args.flags.signal as string | undefined;
  const out = await clientFrom(args).put<{ allocId: string; tasks: string[]; signal: string }>(`/v1/client/allocation/${allocPath(id)}/signal`, {
    ...(signal ? { Signal: signal } : {}), ...(task ? { Task: task } : {}),
  });
  process.stdout.write(`Sent ${out.signal} to ${out.tasks.map((t) => `"${t}"`).join(", ")} of allocation ${out.allocId}\n`);
  return 0;
}

export async function allocStop(args: Parsed): Promise<number> {
  const id = oneId(args);
  const out = await clientFrom(args).put<{ EvalID: string; allocId: string }>(`/v1/allocation/${allocPath(id)}/stop`);
  process.stdout.write(`Allocation ${out.allocId} is stopping; evaluation ${out.EvalID} places its replacement\n`);
  return 0;
}

interface JobJson {
  id: string;
  namespace: string;
  spec: { groups: { name: string; update: { maxParallel: number } }[] };
}

/** --batch-size, or the smallest update.max_parallel of the job's groups (at least 1). */
export function batchSizeOf(flag: unknown, job: JobJson): number {
  if (flag !== undefined) {
    const n = Number(flag);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--batch-size takes a whole number of at least 1, not "${String(flag)}"`);
    return n;
  }
  return Math.max(1, Math.min(...job.spec.groups.map((g) => g.update.maxParallel || 1)));
}

const running = (a: AllocJson) => a.desiredStatus === "run" && a.clientStatus === "running";
const pending = (a: AllocJson) => a.desiredStatus === "run" && a.clientStatus === "pending";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function jobRestart(args: Parsed): Promise<number> {
  const jobId = args.positionals[0];
  if (!jobId || args.positionals.length > 1) throw new UsageError("expected one job ID");
  const client = clientFrom(args);
  const ns = `?namespace=${encodeURIComponent((args.flags.namespace as string | undefined) ?? "default")}`;
  const path = `/v1/job/${encodeURIComponent(jobId)}`;
  const job = await client.get<JobJson>(path + ns);
  const size = batchSizeOf(args.flags["batch-size"], job);
  const timeoutMs = parseTimeoutMs(args.flags.timeout, 10 * 60_000);
  const all = await client.get<AllocJson[]>(`${path}/allocations${ns}`);
  // Running ones only (as Nomad's job restart): a pending allocation has nothing to restart yet.
  const targets = all.filter(running).sort((a, b) => a.groupName.localeCompare(b.groupName) || a.taskGroupIndex - b.taskGroupIndex);
  const skipped = all.filter(pending).length;
  if (skipped) process.stdout.write(`Skipping ${skipped} pending allocation(s): not running yet\n`);
  if (targets.length === 0) {
    process.stdout.write(`Job "${jobId}" has no running allocations to restart\n`);
    return 0;
  }
  const how = args.flags.reschedule ? "rescheduling" : "restarting in place";
  process.stdout.write(`Restarting ${targets.length} allocation(s) of job "${jobId}" in batches of ${size} (${how})\n`);
  for (let i = 0; i < targets.length; i += size) {
    const batch = targets.slice(i, i + size);
    const deadline = Date.now() + timeoutMs;
    if (args.flags.reschedule) await rescheduleBatch(client, path + "/allocations" + ns, batch, deadline);
    else await restartBatch(client, batch, deadline);
    process.stdout.write(`  batch ${i / size + 1}: ${batch.map((a) => a.id.slice(0, 8)).join(", ")} running again\n`);
  }
  process.stdout.write(`Job "${jobId}" restarted\n`);
  return 0;
}

/** In place: each allocation's running tasks restart; the batch is done when they all run again. */
async function restartBatch(client: ApiClient, batch: AllocJson[], deadline: number): Promise<void> {
  const restarted = await Promise.all(batch.map(async (a) => {
    const out = await client.put<{ tasks: string[] }>(`/v1/client/allocation/${encodeURIComponent(a.id)}/restart`, {});
    return { a, tasks: out.tasks };
  }));
  for (const { a, tasks } of restarted) {
    await until(deadline, `allocation ${a.id} running again`, async () => {
      const now = await client.get<AllocJson>(`/v1/allocation/${encodeURIComponent(a.id)}`);
      if (now.clientStatus === "failed" || now.clientStatus === "complete") throw new Error(`allocation ${a.id} ended (${now.clientStatus}) while restarting`);
      return now.clientStatus === "running" && tasks.every((t) => now.taskStates[t]?.state === "running" && now.taskStates[t]!.restarts > (a.taskStates[t]?.restarts ?? 0));
    });
  }
}

/** Replaced: each allocation is stopped; the batch is done when a new allocation runs at each of their group indexes. */
async function rescheduleBatch(client: ApiClient, allocsPath: string, batch: AllocJson[], deadline: number): Promise<void> {
  const before = new Set((await client.get<AllocJson[]>(allocsPath)).map((a) => a.id));
  for (const a of batch) await client.put(`/v1/allocation/${encodeURIComponent(a.id)}/stop`);
  await until(deadline, "the replacements running", async () => {
    const now = (await client.get<AllocJson[]>(allocsPath)).filter((x) => !before.has(x.id) && x.desiredStatus === "run" && x.clientStatus === "running");
    return batch.every((a) => now.some((x) => x.groupName === a.groupName && x.taskGroupIndex === a.taskGroupIndex));
  });
}

async function until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}
