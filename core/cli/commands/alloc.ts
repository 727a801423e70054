// `corral alloc status ID`, `corral alloc logs ID`, `corral node drain ID`.
import { UsageError, type CommandSpec, type Parsed } from "../args.ts";
import { ClientError } from "../client.ts";
import { Progress, progressBar } from "../progress.ts";
import { table } from "../table.ts";
import { listAll } from "../paged.ts";
import { clientFlags, clientFrom } from "./shared.ts";
import { parseTimeoutMs, type AllocJson } from "./job-run.ts";

export const allocStatusSpec: CommandSpec = {
  name: "alloc status",
  summary: "Show an allocation (full id or a unique prefix): placement, status, health, tasks and their recent events.",
  usage: "corral alloc status ID [--json] [--addr URL] [--token TOKEN]",
  flags: { ...clientFlags },
};

export const allocLogsSpec: CommandSpec = {
  name: "alloc logs",
  summary: "Print a task's stdout (or --stderr); -f keeps following new output.",
  usage: "corral alloc logs ID [--task T] [--stderr] [-f] [--addr URL] [--token TOKEN]",
  flags: {
    task: { type: "string", value: "T", help: "The task (needed when the allocation has several)" },
    stderr: { type: "boolean", help: "stderr instead of stdout" },
    follow: { type: "boolean", short: "f", help: "Keep printing new output until interrupted" },
    addr: clientFlags.addr!, token: clientFlags.token!,
  },
};

export const nodeDrainSpec: CommandSpec = {
  name: "node drain",
  summary: "Drain a node: no new placements; its allocations migrate elsewhere (update.max_parallel at a time). Waits until it is empty.",
  usage: "corral node drain ID [--deadline 10m] [--disable] [--detach] [--addr URL] [--token TOKEN]",
  details: "ID is a node id or name. Past --deadline the remaining allocations are stopped at once. --disable ends a drain (the node takes placements again).",
  flags: {
    deadline: { type: "string", value: "DURATION", help: "Stop what is left after this long (default: no deadline)" },
    disable: { type: "boolean", help: "End the drain" },
    detach: { type: "boolean", help: "Return once the drain is started" },
    timeout: { type: "string", value: "DURATION", help: "Give up waiting after this long (default 30m)" },
    ...clientFlags,
  },
};

export async function allocStatus(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one allocation ID");
  const a = await clientFrom(args).get<AllocJson & Record<string, any>>(`/v1/allocation/${encodeURIComponent(id)}`);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(a, null, 2) + "\n");
    return 0;
  }
  const lines = [
    `ID            ${a.id}`, `Job           ${a.namespace}/${a.jobId} (version ${a.jobVersion})`, `Group         ${a.groupName}[${a.taskGroupIndex}]`,
    `Node          ${a.nodeName ?? "?"} (${a.nodeId})`, `Desired       ${a.desiredStatus}${a.desiredDescription ? ` — ${a.desiredDescription}` : ""}`,
    `Status        ${a.clientStatus}${a.clientDescription ? ` — ${a.clientDescription}` : ""}`, `Health        ${a.health || "-"}`,
    `Resources     ${a.resources.cpuMhz} MHz, ${a.resources.memoryMb} MB`,
    `Ports         ${a.ports.map((p) => `${p.task}.${p.label}=${p.value}`).join(", ") || "-"}`,
  ];
  if (a.previousAlloc) lines.push(`Replaces      ${a.previousAlloc}`);
  for (const [name, t] of Object.entries(a.taskStates)) {
    // Lifecycle tasks say when they run (prestart, poststart, poststop; sidecar or not).
    const lc = (a.groupSpec?.tasks as { name: string; lifecycle?: { hook: string; sidecar: boolean } }[] | undefined)?.find((x) => x.name === name)?.lifecycle;
    const hook = lc ? ` (${lc.hook}${lc.sidecar ? " sidecar" : ""})` : "";
    lines.push("", `Task "${name}"${hook}: ${t.state}${t.oom ? " (last exit: out of memory)" : ""}, restarts ${t.restarts}, OOM kills ${t.ooms}`);
    if (t.events.length) lines.push(table(["TIME", "EVENT", "MESSAGE"], t.events.map((e) => [new Date(e.at).toISOString(), e.type, e.message])));
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

export async function allocLogs(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one allocation ID");
  const client = clientFrom(args);
  const q = new URLSearchParams({ type: args.flags.stderr ? "stderr" : "stdout" });
  if (args.flags.task) q.set("task", String(args.flags.task));
  if (args.flags.follow) q.set("follow", "true");
  const token = (args.flags.token as string | undefined) ?? process.env.CORRAL_TOKEN;
  let res: Response;
  try {
    // No client timeout: a followed log stays open until interrupted.
    res = await fetch(`${client.base}/v1/alloc/${encodeURIComponent(id)}/logs?${q}`, { headers: token ? { "X-Consul-Token": token } : {} });
  } catch (err) {
    throw new ClientError(0, "UNREACHABLE", `cannot reach corral at ${client.base}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string };
    throw new ClientError(res.status, body.code ?? `HTTP_${res.status}`, body.error ?? res.statusText);
  }
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
  return 0;
}

export async function nodeDrain(args: Parsed): Promise<number> {
  const id = args.positionals[0];
  if (!id || args.positionals.length > 1) throw new UsageError("expected one node ID or name");
  const client = clientFrom(args);
  const enable = !args.flags.disable;
  const body = { enable, ...(args.flags.deadline ? { deadline: String(args.flags.deadline) } : {}) };
  const out = await client.post<{ nodeId: string }>(`/v1/node/${encodeURIComponent(id)}/drain`, body);
  process.stdout.write(enable ? `Node ${id} is draining\n` : `Drain of node ${id} ended: it takes placements again\n`);
  if (!enable || args.flags.detach) return 0;
  const deadline = Date.now() + parseTimeoutMs(args.flags.timeout, 30 * 60_000);
  const progress = new Progress();
  let total = -1;
  while (Date.now() < deadline) {
    // Paged like every list (core/cli/paged.ts): a busy node's allocations never come as one answer.
    const allocs = await listAll<AllocJson>(client, `/v1/allocations?node=${encodeURIComponent(out.nodeId)}`);
    const left = allocs.filter((a) => a.desiredStatus === "run" && (a.clientStatus === "pending" || a.clientStatus === "running")).length;
    total = Math.max(total, left);
    progress.update(`${progressBar(total - left, total)} allocations moved off the node`);
    if (left === 0) {
      progress.done(`Node ${id} is drained (it stays ineligible until \`corral node drain ${id} --disable\`)`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  progress.done("Timed out waiting; the drain goes on.");
  return 1;
}
