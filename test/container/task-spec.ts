// A one-task job document around a task's TOML lines, parsed by the real
// job-spec parser: for the container jobspec tests.
import { parseJobSpec } from "../../core/scheduler/jobspec.ts";

export const taskJob = (task: string) => `
id = "c"
[[groups]]
name = "g"
[[groups.tasks]]
name = "t"
${task}
`;

/** The job, or throws with the parser's errors. */
export function parsedTask(task: string) {
  const r = parseJobSpec(taskJob(task), "toml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}

/** The parser's errors as `path: message`, or throws when it accepts the job. */
export function taskErrors(task: string): string[] {
  const r = parseJobSpec(taskJob(task), "toml");
  if (r.ok) throw new Error("expected errors");
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}
