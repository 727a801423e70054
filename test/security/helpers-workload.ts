// Helpers of the workload tests: submit a batch job, wait for its one
// allocation to end, and read what its task printed (through the API, as
// the job's submitter would).
import { readFileSync } from "node:fs";
import { eventually, getJson } from "../helpers/proc.ts";

export const IS_ROOT = process.getuid?.() === 0;

/** The uid of a host user from /etc/passwd (undefined when absent). */
export function uidOf(name: string): number | undefined {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(name + ":"));
  return line ? Number(line.split(":")[2]) : undefined;
}

export function headers(token?: string): Record<string, string> {
  return { "content-type": "application/json", ...(token ? { "X-Consul-Token": token } : {}) };
}

/** A batch job of one `/bin/sh -c script` task, never restarted. */
export function shellJob(id: string, script: string, task: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id, type: "batch",
    groups: [{
      name: "g", restart: { attempts: 0, mode: "fail" }, reschedule: { attempts: 0 },
      tasks: [{ name: "t", command: "/bin/sh", args: ["-c", script], resources: { cpu: 50, memory: 64 }, ...task }],
    }],
  };
}

/** The job's allocation once it is complete or failed. */
export async function finishedAlloc(url: string, jobId: string, token?: string, timeoutMs = 30_000): Promise<any> {
  return eventually(async () => {
    const list = (await getJson<any[]>(`${url}/v1/job/${jobId}/allocations`, { headers: headers(token) })).body;
    const a = Array.isArray(list) ? list.find((x) => x.clientStatus === "complete" || x.clientStatus === "failed") : undefined;
    return a;
  }, timeoutMs, 200);
}

export async function taskLogs(url: string, allocId: string, token?: string, type: "stdout" | "stderr" = "stdout"): Promise<string> {
  const r = await fetch(`${url}/v1/alloc/${allocId}/logs?task=t&type=${type}`, { headers: headers(token) });
  return r.text();
}
