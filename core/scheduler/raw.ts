// Raw mode: a task that runs with the agent's own privileges (the raw_exec
// driver, or an exec task's `user = "root"`; a container's `user = "root"`
// is the container's root, not this). Such a task can read the agent's data dir,
// the cluster secret included, so it needs more than job write: the
// submitter's `operator:write` (core/acl/raw-permission.ts) and, on the node,
// `[plugins.exec] allow_raw = true` (core/host/users.ts). Pure.
import type { Job, Task } from "./jobspec/types.ts";

/** The user name that always means raw mode, whatever the node's passwd says. */
export const ROOT_USER = "root";

/**
 * Whether the task runs with the agent's own privileges: driver raw_exec,
 * or an exec task as the host's root. Never a container task: its user
 * (ContainerSpec.user, "root" included) is the image's, inside the
 * container's namespaces with the default capabilities; what makes a
 * container the node's root is `privileged` (isPrivilegedTask). The driver
 * is checked, not only where the user is kept, so a container task that
 * carried a Task.user some other way would still not count as raw.
 */
export function isRawTask(t: Pick<Task, "driver" | "user">): boolean {
  return t.driver === "raw_exec" || (t.driver === "exec" && t.user === ROOT_USER);
}

/**
 * A privileged container (every capability the agent holds, no seccomp, the
 * node's devices) can take the host as a raw task can: submitting one needs
 * operator:write too, whatever the node allows (container_allow_privileged
 * is the node's consent, not the submitter's right).
 */
export function isPrivilegedTask(t: Pick<Task, "container">): boolean {
  return t.container?.privileged === true;
}

/** "group/task" and why, of every task of the job that runs with the node's own privileges (raw or privileged). */
export function hostPrivilegedTasks(job: Job): { task: string; why: string }[] {
  return job.groups.flatMap((g) => g.tasks.flatMap((t) =>
    isRawTask(t) ? [{ task: `${g.name}/${t.name}`, why: 'runs in raw mode (driver raw_exec or user "root")' }]
    : isPrivilegedTask(t) ? [{ task: `${g.name}/${t.name}`, why: "is a privileged container" }]
    : []));
}

/**
 * Node attributes an agent reports about its exec driver, so the scheduler
 * places tasks only where they may run: `driver.exec` is "false" on an agent
 * that cannot switch users (not root), `driver.raw_exec` is "false" where
 * `[plugins.exec] allow_raw` is off. A node without them (an older agent)
 * is not filtered: the agent still refuses what it may not run.
 */
export const EXEC_ATTRIBUTE = "driver.exec";
export const RAW_EXEC_ATTRIBUTE = "driver.raw_exec";

export function execAttributes(agentIsRoot: boolean, allowRaw: boolean): Record<string, string> {
  return { [EXEC_ATTRIBUTE]: String(agentIsRoot), [RAW_EXEC_ATTRIBUTE]: String(allowRaw) };
}

/** The implicit placement rules of a group's tasks: which driver attributes must not be "false". */
export function driverRequirements(tasks: readonly Pick<Task, "driver" | "user">[]): { attribute: string; reason: string }[] {
  const out: { attribute: string; reason: string }[] = [];
  if (tasks.some(isRawTask)) out.push({ attribute: RAW_EXEC_ATTRIBUTE, reason: "raw mode is off on the node ([plugins.exec] allow_raw = false)" });
  if (tasks.some((t) => !isRawTask(t))) out.push({ attribute: EXEC_ATTRIBUTE, reason: "the exec driver needs a root agent to switch users" });
  return out;
}
