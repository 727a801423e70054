// The scheduler's view of the world and the plan it hands back.
//
// Everything here is plain data. `schedule()` reads a snapshot (nodes + live
// allocations) and returns a Plan; core/state commits it. Nothing in
// core/scheduler does I/O, reads a clock or calls Math.random.

/** CPU in MHz and memory in MB: the two dimensions the scheduler packs. */
export interface Resources {
  cpuMhz: number;
  memoryMb: number;
}

export type NodeStatus = "ready" | "down" | "draining";

export interface NodeView {
  id: string;
  name: string;
  status: NodeStatus;
  /** Fingerprinted attributes, e.g. "os.name" → "linux" (read as `${attr.os.name}`). */
  attributes: Record<string, string>;
  /** Operator metadata, e.g. "rack" → "r1" (read as `${meta.rack}`). */
  meta: Record<string, string>;
  /** Total capacity of the node. */
  resources: Resources;
  /** Capacity kept back for the OS and the agent; never offered to tasks. */
  reserved: Resources;
}

/**
 * Allocation statuses. "pending" and "running" hold resources on their node.
 * The terminal ones do not; of those, only a batch job's "complete" still
 * counts towards the group's count (a finished batch task is not re-run).
 */
export type AllocationStatus = "pending" | "running" | "complete" | "failed" | "lost" | "stopped";

export interface AllocationView {
  id: string;
  jobId: string;
  namespace: string;
  group: string;
  nodeId: string;
  priority: number;
  resources: Resources;
  /** Host ports this allocation holds on its node (static and dynamic). */
  ports: number[];
  status: AllocationStatus | string;
  /** The alloc's index in its group (Nomad's `job.group[i]`); assigned in order when absent. */
  taskGroupIndex?: number;
}

/** Nodes plus the allocations the scheduler must account for. */
export interface Snapshot {
  nodes: readonly NodeView[];
  allocations: readonly AllocationView[];
}

/** A host port given to one task of a placement. */
export interface PortAssignment {
  task: string;
  label: string;
  value: number;
  /** true when the job asked for exactly this port. */
  static: boolean;
}

export interface Placement {
  group: string;
  /** Index within the group, 0..count-1. Stable across replacements. */
  taskGroupIndex: number;
  nodeId: string;
  /** Sum over the group's tasks. */
  resources: Resources;
  ports: PortAssignment[];
  /** Final normalized score of the chosen node, in [0,1]. */
  score: number;
  /** Allocations evicted to make room (also listed in Plan.stops). */
  preempted?: string[];
}

export type StopReason =
  | "count-lowered"   // the group's count went down
  | "group-removed"   // the group is gone from the job
  | "node-down"       // its node is down or unknown: lost, replaced elsewhere
  | "node-draining"   // migrated off a draining node
  | "node-ineligible" // system jobs: the node no longer passes the constraints
  | "preempted";      // evicted for a higher-priority placement

export interface Stop {
  allocId: string;
  nodeId: string;
  namespace: string;
  jobId: string;
  group: string;
  reason: StopReason;
  /** One readable sentence for the UI and the API. */
  message: string;
}

/**
 * Why nodes were rejected, like Nomad's AllocMetric: counts per check and per
 * reason text. This is what answers "why wasn't it placed?".
 */
export interface PlacementMetrics {
  /** Nodes run through the feasibility checks. */
  nodesEvaluated: number;
  /** Rejected by a check other than resources/ports (status, constraints, distinct_hosts). */
  nodesFiltered: number;
  /** Rejected because a resource or port was used up. */
  nodesExhausted: number;
  /** Check name → nodes it rejected. */
  byCheck: Record<string, number>;
  /** Reason text (e.g. "memory exhausted", "constraint ${attr.os.name} = linux") → nodes. */
  reasons: Record<string, number>;
  /** Further placements of the same group that failed for the same reasons and were not re-tried. */
  coalescedFailures: number;
}

export interface FailedGroup {
  group: string;
  /** Allocations of this group that could not be placed. */
  missing: number;
  /** What one allocation of this group asks for (used to decide when to unblock). */
  resources: Resources;
  metrics: PlacementMetrics;
}

/** The output of one evaluation. Data only: core/state commits it. */
export interface Plan {
  evalId: string;
  namespace: string;
  jobId: string;
  priority: number;
  placements: Placement[];
  stops: Stop[];
  failedGroups: FailedGroup[];
  /** true when something could not be placed: park the evaluation until capacity changes. */
  blocked: boolean;
}

/** A random source returning numbers in [0, 1). */
export type Rng = () => number;

export interface ScheduleOptions {
  /** Evict lower-priority allocations when nothing fits. Default false. */
  preemption?: boolean;
  /** A victim's priority must be at most job priority − this. Default 1 (strictly lower). */
  preemptionPriorityDelta?: number;
  /** Inclusive range for dynamic host ports. Default 20000–32000. */
  portRange?: { min: number; max: number };
  /** Feasible nodes scored per placement. Default: see candidateLimit() in select.ts. */
  candidateLimit?: number;
  /** "binpack" fills nodes (default); "spread" prefers emptier nodes. */
  algorithm?: "binpack" | "spread";
  /** Override the evaluation-id-seeded random source (tests, replays). */
  rng?: Rng;
}

export const DEFAULT_PORT_RANGE = { min: 20000, max: 32000 } as const;
