// Placement of container tasks: only on nodes whose agent found an OCI
// runtime (plugins/container/runtime.ts reports it as
// driver.container.runtime). Unlike the exec attributes, absence means
// "no": an agent that does not report a runtime cannot run the task. Pure.
import type { Task } from "./jobspec/types.ts";
import { capabilitiesNotAllowed, CONTAINER_CAPS_ATTRIBUTE, CONTAINER_PRIVILEGED_ATTRIBUTE, effectiveCapabilities, formatCapabilities, parseCapabilitiesAttribute } from "./capabilities.ts";

export const CONTAINER_RUNTIME_ATTRIBUTE = "driver.container.runtime";
export const CONTAINER_VERSION_ATTRIBUTE = "driver.container.version";

/** The rule a group's container tasks put on nodes, or undefined when it has none. */
export function containerRequirement(tasks: readonly Pick<Task, "driver">[]): { attribute: string; reason: string } | undefined {
  if (!tasks.some((t) => t.driver === "container")) return undefined;
  return { attribute: CONTAINER_RUNTIME_ATTRIBUTE, reason: "container tasks need an OCI runtime (runc or crun) on the node" };
}

/**
 * What a group's privileged and cap_add / cap_drop container tasks need of a
 * node's agent (Nomad's docker driver: the node decides, by its
 * `[plugins.exec] container_allow_privileged` and `container_allow_caps`,
 * fingerprinted by plugins/container/runtime.ts). A node that does not
 * allow them is not eligible, with the reason in the placement explanation.
 */
export function containerSecurityRequirements(tasks: readonly Pick<Task, "driver" | "name" | "container">[]): { reason: string; test: (attributes: Readonly<Record<string, string>>) => boolean }[] {
  const out: { reason: string; test: (attributes: Readonly<Record<string, string>>) => boolean }[] = [];
  const ctr = tasks.filter((t) => t.driver === "container" && t.container);
  const privileged = ctr.filter((t) => t.container!.privileged);
  if (privileged.length) {
    out.push({
      reason: `task ${privileged.map((t) => JSON.stringify(t.name)).join(", ")} is privileged: the node's agent must set [plugins.exec] container_allow_privileged = true`,
      test: (a) => a[CONTAINER_PRIVILEGED_ATTRIBUTE] === "true",
    });
  }
  for (const t of ctr) {
    const spec = t.container!;
    if (spec.privileged || (!spec.capAdd?.length && !spec.capDrop?.length)) continue; // the default set: every runtime node allows it unless narrowed
    let wanted: string[];
    try {
      wanted = effectiveCapabilities(spec.capAdd, spec.capDrop);
    } catch {
      continue; // refused at submission (jobspec); never placed anyway
    }
    out.push({
      reason: `task ${JSON.stringify(t.name)} needs capabilities ${formatCapabilities(wanted)}: the node's [plugins.exec] container_allow_caps must include them`,
      test: (a) => capabilitiesNotAllowed(wanted, parseCapabilitiesAttribute(a[CONTAINER_CAPS_ATTRIBUTE])).length === 0,
    });
  }
  return out;
}
