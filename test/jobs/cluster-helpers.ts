// A leader process and agent processes for the jobs tests, with fixed
// advertised resources ([plugins.probe] overrides) so placement is
// deterministic, and helpers to submit jobs and wait on allocations. Task
// processes an agent leaves behind (kill -9) are reaped at the end from the
// agents' processes.json files.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, freePort, tempDir, getJson, eventually, type CorralProcess } from "../helpers/proc.ts";

export const SECRET = "jobs-test-secret-0123456789";
export const BUN = process.execPath;
export const NODE_TTL_MS = 2000;

/** A tiny HTTP server task: answers "ok" on $CORRAL_PORT_HTTP. */
export const HTTP_TASK_ARGS = ["-e", "Bun.serve({ port: Number(process.env.CORRAL_PORT_HTTP), fetch: () => new Response('ok') })"];

export interface Agent {
  name: string;
  port: number;
  dataDir: string;
  config: string;
  proc: CorralProcess;
  nodeId: string;
}

export async function startLeader(): Promise<CorralProcess> {
  return startCorral({
    role: "leader",
    config: [
      `[cluster]\nsecret = "${SECRET}"`,
      `[leader]\nnode_ttl = "${NODE_TTL_MS}ms"\nscheduler_preemption = true`,
      `[raft]\nsync = "normal"`,
      `[plugins]\nenabled = ["probe", "discovery", "exec", "invoke"]\nwatch = false`,
    ].join("\n\n") + "\n",
  });
}

export async function startAgent(leader: CorralProcess, name: string, opts: { cpuMhz?: number; memoryMb?: number } = {}): Promise<Agent> {
  const port = await freePort();
  const dataDir = join(tempDir(), "agent-data");
  const config = [
    `[node]\nname = "${name}"`,
    `[cluster]\nsecret = "${SECRET}"`,
    `[agent]\nleaders = ["127.0.0.1:${leader.port}"]\nheartbeat = "300ms"`,
    `[plugins]\nenabled = ["probe", "discovery", "exec", "invoke"]\nwatch = false`,
    `[plugins.probe]\ncpu_total_mhz = ${opts.cpuMhz ?? 2000}\nmemory_total_mb = ${opts.memoryMb ?? 2048}`,
    `[plugins.exec]\nkill_timeout = "1s"\nwatchdog_interval = "100ms"`,
  ].join("\n\n") + "\n";
  const proc = await startCorral({ role: "agent", port, dataDir, config });
  const node = await eventually(async () => (await getJson<any[]>(leader.url + "/v1/nodes")).body.find((n) => n.name === name && n.status === "ready"), 15_000);
  return { name, port, dataDir, config, proc, nodeId: node.id };
}

export async function restartAgent(a: Agent): Promise<void> {
  a.proc = await startCorral({ role: "agent", port: a.port, dataDir: a.dataDir, config: a.config });
}

export async function submit(base: string, job: Record<string, unknown>): Promise<{ evalId: string; version: number }> {
  const r = await getJson(base + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } });
  if (r.status !== 200) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function stopJob(base: string, id: string, purge = false): Promise<void> {
  const r = await getJson(`${base}/v1/job/${id}${purge ? "?purge" : ""}`, { method: "DELETE" });
  if (r.status !== 200) throw new Error(`stop failed: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function allocs(base: string, jobId: string): Promise<any[]> {
  return (await getJson<any[]>(`${base}/v1/job/${jobId}/allocations`)).body;
}

/** The job's live allocations once `n` of them run (desired run, client running). */
export async function waitRunning(base: string, jobId: string, n: number, timeoutMs = 20_000): Promise<any[]> {
  return eventually(async () => {
    const list = (await allocs(base, jobId)).filter((a) => a.desiredStatus === "run" && a.clientStatus === "running");
    return list.length === n && list;
  }, timeoutMs, 100);
}

export function taskPid(alloc: any, task: string): number | undefined {
  const started = [...(alloc.taskStates?.[task]?.events ?? [])].reverse().find((e: any) => e.type === "Started");
  const m = started ? /pid (\d+)/.exec(started.message) : null;
  return m ? Number(m[1]) : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Kills task process groups an agent recorded (safety net after kill -9). */
export function reapTasks(dataDir: string): void {
  const file = join(dataDir, "exec", "processes.json");
  if (!existsSync(file)) return;
  try {
    for (const t of (JSON.parse(readFileSync(file, "utf8")) as { tasks: { pid: number }[] }).tasks) {
      try {
        process.kill(-t.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  } catch {
    // unreadable: nothing to do
  }
}

export function httpJob(id: string, opts: { count: number; cpu: number; memory?: number; priority?: number; spread?: boolean; extra?: Record<string, unknown> }) {
  return {
    id, priority: opts.priority ?? 50,
    groups: [{
      name: "web", count: opts.count,
      ...(opts.spread ? { spread: [{ attribute: "${node.name}" }] } : {}),
      update: { min_healthy_time: "500ms", healthy_deadline: "1m" },
      reschedule: { delay: "1s", unlimited: true },
      tasks: [{
        name: "srv", command: BUN, args: HTTP_TASK_ARGS, resources: { cpu: opts.cpu, memory: opts.memory ?? 200 }, ports: { http: {} },
        service: { name: id, port: "http", checks: [{ type: "http", path: "/", interval: "500ms", timeout: "1s" }] },
      }],
      ...opts.extra,
    }],
  };
}
