// Placement of container tasks: only on nodes whose agent found an OCI
// runtime (plugins/container/runtime.ts reports it as
// driver.container.runtime). Unlike the exec attributes, absence means
// "no": an agent that does not report a runtime cannot run the task. Pure.
import type { Task } from "./jobspec/types.ts";

export const CONTAINER_RUNTIME_ATTRIBUTE = "driver.container.runtime";
export const CONTAINER_VERSION_ATTRIBUTE = "driver.container.version";

/** The rule a group's container tasks put on nodes, or undefined when it has none. */
export function containerRequirement(tasks: readonly Pick<Task, "driver">[]): { attribute: string; reason: string } | undefined {
  if (!tasks.some((t) => t.driver === "container")) return undefined;
  return { attribute: CONTAINER_RUNTIME_ATTRIBUTE, reason: "container tasks need an OCI runtime (runc or crun) on the node" };
}
