// Which job changes replace running allocations and which update them in
// place, pure (Nomad's scheduler/util.go tasksUpdated).
//
// Destructive: anything a running task was started with — the set of tasks,
// and per task its driver, user, command, args, env, resources, ports,
// service and dispatch payload. Those are what the agent used to start the
// process, so they take effect only in a new allocation (rolling update).
//
// In place: count, constraints, spread, priority, meta, and the update,
// restart and reschedule policies. They concern where and how many
// allocations run and how the leader treats them, not the running process,
// so the kept allocations move to the new job version without a restart.
// (Job meta reaches tasks only in periodic and dispatched children, where it
// is written into each task's env, which makes it a task change there.)
//
// groupHash (core/cluster/scheduling/views.ts) hashes exactly group.tasks,
// so "hash differs" and "tasksUpdated() !== null" agree; a unit test holds
// them together.
import type { Task, TaskGroup } from "./jobspec/types.ts";

/** The task fields compared, in the order reasons are reported. */
const TASK_FIELDS = ["driver", "user", "isolation", "networkMode", "command", "args", "container", "env", "resources", "ports", "service", "dispatchPayload", "payload", "templates"] as const satisfies readonly (keyof Task)[];

/** Canonical JSON: object keys sorted, so key order never counts as a change. */
function canon(v: unknown): string {
  if (v === undefined) return "null";
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Why moving an allocation of group `a` to group `b` needs a new allocation
 * (the first destructive difference, e.g. `task "web": command changed`),
 * or null when it can be updated in place.
 */
export function tasksUpdated(a: TaskGroup, b: TaskGroup): string | null {
  if (a.tasks.length !== b.tasks.length) return `tasks changed (${a.tasks.length} → ${b.tasks.length})`;
  // The group's host volumes are bound into the tasks' folders at start: a change needs new allocations.
  if (canon(a.volumes) !== canon(b.volumes)) return "volumes changed";
  for (let i = 0; i < a.tasks.length; i++) {
    const x = a.tasks[i]!;
    const y = b.tasks[i]!;
    if (x.name !== y.name) return `task "${x.name}" replaced by "${y.name}"`;
    for (const f of TASK_FIELDS) if (canon(x[f]) !== canon(y[f])) return `task "${x.name}": ${f} changed`;
    // A field added to Task later is destructive until listed above (safe default).
    if (canon(x) !== canon(y)) return `task "${x.name}" changed`;
  }
  return null;
}

export type AllocUpdate = "ignore" | "in-place update" | "create/destroy update";

/**
 * What an allocation running `from` (its group as placed, at job version
 * `fromVersion`) needs to become one of `toVersion` with group `to`.
 */
export function allocUpdateKind(from: TaskGroup, fromVersion: number, to: TaskGroup, toVersion: number): AllocUpdate {
  if (tasksUpdated(from, to) !== null) return "create/destroy update";
  return fromVersion === toVersion ? "ignore" : "in-place update";
}
