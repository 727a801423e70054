// Raw mode: a task that runs with the agent's own privileges (the raw_exec
// driver, or `user = "root"`). Such a task can read the agent's data dir,
// the cluster secret included, so it needs more than job write: the
// submitter's `operator:write` (core/acl/raw-permission.ts) and, on the node,
// `[plugins.exec] allow_raw = true` (plugins/exec/users.ts). Pure.
import type { Job, Task } from "./jobspec/types.ts";

/** The user name that always means raw mode, whatever the node's passwd says. */
export const ROOT_USER = "root";

export function isRawTask(t: Pick<Task, "driver" | "user">): boolean {
  return t.driver === "raw_exec" || t.user === ROOT_USER;
}

/** "group/task" of every raw task of the job. */
export function rawTasks(job: Job): string[] {
  return job.groups.flatMap((g) => g.tasks.filter(isRawTask).map((t) => `${g.name}/${t.name}`));
}
