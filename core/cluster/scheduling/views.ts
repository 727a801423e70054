// State rows → the scheduler's views (pure). Node capacity is the
// fingerprint minus the reservation, memory in whole MiB, exactly as the
// plan verifier counts it (nodeCapacity), so a plan the scheduler thinks
// fits is never refused for rounding.
import { createHash } from "node:crypto";
import type { NodeRow } from "../../store/schema.ts";
import type { AllocRow, NodeDrainRow } from "../../store/schema-jobs.ts";
import type { AllocationView, Job, NodeView, Resources, TaskGroup } from "../../scheduler/index.ts";
import { holdsResources, nodeCapacity } from "../../state/domains/jobs-common.ts";
import type { LiveAllocLite } from "../../state/domains/jobs-read.ts";
import { stableJson } from "../../stable-json.ts";

/**
 * What makes an allocation outdated: its tasks (command, args, env,
 * resources, ports, service). Count, constraints, spread, update, restart
 * and reschedule changes apply to new placements without replacing running
 * allocations (Nomad's in-place updates; as in Nomad, a kept allocation whose
 * node no longer satisfies changed constraints is replaced: inplace-misfit.ts).
 */
export function groupHash(_job: Job, group: TaskGroup): string {
  // Host volumes are what the tasks were started with too (bind mounts); absent, the hash is as before.
  const what = group.volumes ? { tasks: group.tasks, volumes: group.volumes } : group.tasks;
  return createHash("sha256").update(stableJson(what)).digest("hex").slice(0, 16);
}

export function nodeView(n: NodeRow, draining: boolean): NodeView {
  return {
    id: n.id, name: n.name,
    status: n.status === "down" ? "down" : draining ? "draining" : "ready",
    attributes: n.attributes, meta: n.meta,
    resources: nodeCapacity(n), reserved: { cpuMhz: 0, memoryMb: 0 },
  };
}

/** A stopped allocation is terminal for scheduling, whatever its agent reports. */
export function allocView(a: LiveAllocLite, statusOverride?: string): AllocationView {
  return {
    id: a.id, jobId: a.jobId, namespace: a.namespace, group: a.groupName, nodeId: a.nodeId, priority: a.priority,
    resources: a.resources, ports: a.ports.map((p) => p.value),
    status: statusOverride ?? (a.desiredStatus === "stop" ? "stopped" : a.clientStatus),
    taskGroupIndex: a.taskGroupIndex,
  };
}

export function nodeViews(nodes: readonly NodeRow[], drains: readonly NodeDrainRow[]): NodeView[] {
  const draining = new Set(drains.map((d) => d.nodeId));
  return nodes.map((n) => nodeView(n, draining.has(n.id)));
}

/** Free resources of a node after its live allocations. */
export function freeOnNode(n: NodeRow, live: readonly AllocRow[]): Resources {
  const cap = nodeCapacity(n);
  let cpu = 0;
  let mem = 0;
  for (const a of live) {
    if (a.nodeId !== n.id || !holdsResources(a)) continue;
    cpu += a.resources.cpuMhz;
    mem += a.resources.memoryMb;
  }
  return { cpuMhz: cap.cpuMhz - cpu, memoryMb: cap.memoryMb - mem };
}

/** DRF input: what each namespace's live allocations hold, against the ready nodes' capacity. */
export function fairnessInput(nodes: readonly NodeRow[], live: readonly Pick<AllocRow, "namespace" | "resources">[]) {
  const capacity = { cpuMhz: 0, memoryMb: 0 };
  for (const n of nodes) {
    if (n.status !== "ready") continue;
    const c = nodeCapacity(n);
    capacity.cpuMhz += c.cpuMhz;
    capacity.memoryMb += c.memoryMb;
  }
  const usage: Record<string, Resources> = {};
  for (const a of live) {
    const u = (usage[a.namespace] ??= { cpuMhz: 0, memoryMb: 0 });
    u.cpuMhz += a.resources.cpuMhz;
    u.memoryMb += a.resources.memoryMb;
  }
  return { usage, capacity };
}
