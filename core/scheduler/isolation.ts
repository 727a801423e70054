// Isolation as a placement rule, pure: a task that demands isolation
// (`isolation = "required"`, or `network_mode = "none"`, which only a
// sandbox gives) is placed only on nodes whose exec driver reported
// `driver.exec.isolation = "namespaces"` (plugins/exec/sandbox-host.ts).
// A node without the attribute (an older agent) cannot give it either.
// Container tasks are isolated by their OCI runtime (placed where
// driver.container.runtime is, core/scheduler/container.ts), their
// network_mode "none" included: not by this rule.
import type { Task } from "./jobspec/types.ts";
import { isRawTask } from "./raw.ts";

export const ISOLATION_ATTRIBUTE = "driver.exec.isolation";
export const ISOLATED = "namespaces";

export function needsIsolation(t: Pick<Task, "driver" | "user" | "isolation" | "networkMode">): boolean {
  return t.driver !== "container" && !isRawTask(t) && (t.isolation === "required" || t.networkMode === "none");
}

/** The filter reason when the group's tasks need isolation, else undefined. */
export function isolationRequirement(tasks: readonly Pick<Task, "name" | "driver" | "user" | "isolation" | "networkMode">[]): { attribute: string; value: string; reason: string } | undefined {
  const names = tasks.filter(needsIsolation).map((t) => t.name);
  if (names.length === 0) return undefined;
  return { attribute: ISOLATION_ATTRIBUTE, value: ISOLATED, reason: `task ${names.join(", ")} requires isolation; the node's exec driver cannot isolate (${ISOLATION_ATTRIBUTE} is not "${ISOLATED}")` };
}
