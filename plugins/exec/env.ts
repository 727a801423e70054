// The environment of a task process, pure. Tasks do not inherit the agent's
// environment (it may hold the cluster secret): only a few variables a
// program commonly needs pass through, then the CORRAL_* facts of the
// allocation, then the task's own env (which may override them). A task
// switched to another user gets that user's name and its own folder as HOME.
// The CORRAL_* names come from core/scheduler/interpolate.ts, which
// interpolation and job validation read too: one list of names.
import { allocVariables, INHERITED_ENV, type PortAssignment, type Task } from "../../core/sdk/index.ts";

export { envLabel, INHERITED_ENV } from "../../core/sdk/index.ts";

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

export function taskEnv(i: TaskEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) {
    const v = i.agentEnv[k];
    if (v !== undefined) env[k] = v;
  }
  if (i.user) Object.assign(env, { HOME: i.user.home, USER: i.user.name, LOGNAME: i.user.name });
  Object.assign(env, allocVariables(i));
  return { ...env, ...i.task.env };
}
