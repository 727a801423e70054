// The normalized job: what parseJobSpec returns and what schedule() reads.
// Input keys are snake_case (TOML/HCL habit); here they are camelCase with
// units in the names, durations in milliseconds. Every default is filled in.

import type { Resources } from "../types.ts";

export type JobType = "service" | "batch";
export type ConstraintOperator = "=" | "!=" | "regexp" | "version" | "distinct_hosts";

export interface Constraint {
  /** `${attr.x}`, `${meta.x}`, `${node.id|name|status}` or a literal. "" for distinct_hosts. */
  attribute: string;
  operator: ConstraintOperator;
  /** Right-hand side; for distinct_hosts "true" or "false". */
  value: string;
}

export interface SpreadTarget {
  value: string;
  /** Share of the group's allocations wanted on nodes with this value, 0–100. */
  percent: number;
}

export interface Spread {
  attribute: string;
  /** Empty: spread evenly over every value seen in the cluster. */
  targets: SpreadTarget[];
}

export interface RestartPolicy {
  attempts: number;
  intervalMs: number;
  delayMs: number;
  mode: "fail" | "delay";
}

export interface ReschedulePolicy {
  attempts: number;
  intervalMs: number;
  delayMs: number;
  unlimited: boolean;
}

export interface UpdateStrategy {
  maxParallel: number;
  minHealthyTimeMs: number;
  healthyDeadlineMs: number;
  autoRevert: boolean;
}

export interface PortSpec {
  /** Exact host port; absent means "pick one from the dynamic range". */
  static?: number;
}

export interface ServiceCheck {
  name: string;
  type: "http" | "tcp" | "ttl";
  /** HTTP path, only for http checks. */
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  /** For ttl checks: how long a pass lasts without a new one. Defaults to intervalMs. */
  ttlMs?: number;
}

export interface ServiceSpec {
  name: string;
  tags: string[];
  /** A port label of the same task. */
  port?: string;
  checks: ServiceCheck[];
}

export interface Task {
  name: string;
  /** "exec": as an unprivileged user; "raw_exec": as the agent's own user (raw mode, docs/exec.md). */
  driver: "exec" | "raw_exec";
  /**
   * The host user the task runs as (exec driver; default: the agent's
   * `[plugins.exec] user`). "root" is raw mode, like the raw_exec driver.
   */
  user?: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  resources: Resources;
  /** Port label → spec. */
  ports: Record<string, PortSpec>;
  service?: ServiceSpec;
}

export interface TaskGroup {
  name: string;
  count: number;
  constraints: Constraint[];
  spread: Spread[];
  restart: RestartPolicy;
  reschedule: ReschedulePolicy;
  update: UpdateStrategy;
  tasks: Task[];
}

export interface Job {
  id: string;
  namespace: string;
  type: JobType;
  priority: number;
  /** Constraints on every group of the job. */
  constraints: Constraint[];
  groups: TaskGroup[];
}

export interface JobSpecError {
  /** Key path like "groups[0].tasks[1].resources.cpu"; "" for the whole document. */
  path: string;
  message: string;
}

export type JobSpecResult = { ok: true; job: Job } | { ok: false; errors: JobSpecError[] };
