// The environment of a task process, pure. Tasks do not inherit the agent's
// environment (it may hold the cluster secret): only a few variables a
// program commonly needs pass through, then the CORRAL_* facts of the
// allocation, then the task's own env (which may override them). A task
// switched to another user gets that user's name and its own folder as HOME.
import type { PortAssignment, Task } from "../../core/scheduler/index.ts";

/** Agent variables a task inherits. */
export const INHERITED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"] as const;

export interface TaskEnvInput {
  allocId: string;
  jobId: string;
  namespace: string;
  group: string;
  index: number;
  task: Task;
  allocDir: string;
  taskDir: string;
  /** The agent's address other nodes reach (ports are bound by the task on every interface it chooses). */
  host: string;
  ports: readonly PortAssignment[];
  agentEnv: Record<string, string | undefined>;
  /** The user the task was switched to: HOME, USER and LOGNAME are its, not the agent's. */
  user?: { name: string; home: string };
}

/** "http" → "HTTP", "metrics-v2" → "METRICS_V2": a port label as an environment variable suffix. */
export function envLabel(label: string): string {
  return label.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

export function taskEnv(i: TaskEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) {
    const v = i.agentEnv[k];
    if (v !== undefined) env[k] = v;
  }
  if (i.user) Object.assign(env, { HOME: i.user.home, USER: i.user.name, LOGNAME: i.user.name });
  Object.assign(env, {
    CORRAL_ALLOC_ID: i.allocId,
    CORRAL_JOB_ID: i.jobId,
    CORRAL_NAMESPACE: i.namespace,
    CORRAL_GROUP: i.group,
    CORRAL_ALLOC_INDEX: String(i.index),
    CORRAL_TASK: i.task.name,
    CORRAL_ALLOC_DIR: i.allocDir,
    CORRAL_TASK_DIR: i.taskDir,
    CORRAL_CPU_LIMIT: String(i.task.resources.cpuMhz),
    CORRAL_MEMORY_LIMIT: String(i.task.resources.memoryMb),
  });
  for (const p of i.ports) {
    if (p.task !== i.task.name) continue;
    env[`CORRAL_PORT_${envLabel(p.label)}`] = String(p.value);
    env[`CORRAL_ADDR_${envLabel(p.label)}`] = `${i.host}:${p.value}`;
  }
  return { ...env, ...i.task.env };
}
