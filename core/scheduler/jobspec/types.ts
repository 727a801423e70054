// The normalized job: what parseJobSpec returns and what schedule() reads.
// Input keys are snake_case (TOML/HCL habit); here they are camelCase with
// units in the names, durations in milliseconds. Every default is filled in.

import type { Resources } from "../types.ts";

export type JobType = "service" | "batch" | "system" | "sysbatch";

/** Types whose tasks run to completion: an exit 0 is "complete", and a complete allocation is not re-run. */
export function runsToCompletion(type: string): boolean {
  return type === "batch" || type === "sysbatch";
}

/** Types placed once on every eligible node instead of `count` times. */
export function isSystemType(type: string): boolean {
  return type === "system" || type === "sysbatch";
}
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
  /** Canaries placed beside the old allocations on a destructive change (0: plain rolling update). Absent in jobs from before canaries: 0. */
  canary?: number;
  /** Promote the canaries once all are healthy. */
  autoPromote?: boolean;
}

export interface PortSpec {
  /** Exact host port; absent means "pick one from the dynamic range". */
  static?: number;
  /** Container tasks in their allocation's network namespace: the port inside the container the host port is proxied to (Nomad's `to`). */
  to?: number;
}

export interface ServiceCheck {
  name: string;
  type: "http" | "tcp" | "grpc" | "ttl";
  /** HTTP path, only for http checks. */
  path?: string;
  /** grpc checks: the service name sent in HealthCheckRequest ("" or absent: the whole server). */
  grpcService?: string;
  /** grpc checks: h2 over TLS to the task (certificate not verified: a task's own certificate, as Nomad's tls_skip_verify). */
  grpcUseTls?: boolean;
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
  driver: "exec" | "raw_exec" | "container";
  /**
   * The host user the task runs as (exec driver; default: the agent's
   * `[plugins.exec] user`). "root" is raw mode, like the raw_exec driver.
   * Never set on a container task: its `user` is ContainerSpec.user.
   */
  user?: string;
  /** Exec driver: "required" runs only isolated (docs/exec.md "Isolation"); absent: "best-effort". */
  isolation?: "required" | "best-effort";
  /** Exec driver: "none" = its own empty network namespace (needs isolation); absent: "host". */
  networkMode?: "host" | "none";
  /** exec and raw_exec: the program. container: "" or the image Cmd's replacement. */
  command: string;
  args: string[];
  /** The container driver's part (docs/containers.md); present exactly when driver is "container". */
  container?: ContainerSpec;
  env: Record<string, string>;
  resources: Resources;
  /** Port label → spec. */
  ports: Record<string, PortSpec>;
  service?: ServiceSpec;
  /** Where a dispatched job's payload is written, relative to the task directory (default "payload"). */
  dispatchPayload?: { file: string };
  /** Set on a dispatched child job only: the payload, base64. */
  payload?: string;
  /** When the task runs relative to the group's main tasks (absent: a main task). */
  lifecycle?: TaskLifecycle;
  /** Fetched by the agent into the task folder before the task starts (plugins/exec/artifacts.ts). */
  artifacts?: TaskArtifact[];
  /** The group's volumes bound into the task folder (plugins/exec/volumes.ts). */
  volumeMounts?: VolumeMount[];
  /** Files (or env) rendered from KV, the catalog and variables before the task starts (absent: none). */
  templates?: TaskTemplate[];
}

/** What a container task runs (plugins/container). */
export interface ContainerSpec {
  /** "registry[:port]/name[:tag]" or "…@sha256:<hex>" (core/scheduler/image-ref.ts). */
  image: string;
  /** Replaces the image's Entrypoint. */
  entrypoint?: string[];
  /** Replaces the image's WorkingDir. */
  workDir?: string;
  /**
   * Replaces the image's User: "name", "uid", "name:group" or "uid:gid" of
   * the image's own passwd and group (core/scheduler/container-user.ts).
   * Not Task.user (a host user of the exec driver): "root" here is the
   * container's root, in its namespaces with the default capabilities.
   */
  user?: string;
  /** The container's root file system read-only (its task folder, /local, stays writable). */
  readonlyRootfs: boolean;
  /** Every capability, no seccomp, the node's devices (needs the node's container_allow_privileged); absent: false. */
  privileged?: boolean;
  /** Capabilities added to / dropped from the default set, canonical ("CAP_NET_ADMIN"; "ALL" expanded by capabilities.ts). */
  capAdd?: string[];
  capDrop?: string[];
}

/** A task template (docs/jobs.md "Templates"); rendered by the agent (plugins/exec/templates). */
export interface TaskTemplate {
  /** Liquid text (core/templates/engine.ts). */
  data: string;
  /** Relative to the task directory; with env, a name only shown in events. */
  destination: string;
  /** Render KEY=VALUE lines into the task's environment instead of a file. */
  env: boolean;
  changeMode: "restart" | "signal" | "noop" | "script";
  changeSignal?: string;
  /** With changeMode "script": run in the task's sandbox as its user on each re-render (plugins/exec/templates/change-script.ts). */
  changeScript?: ChangeScript;
  /** Random delay before acting on a change, at most this long. */
  splayMs: number;
  /** File mode, octal text ("0644"). */
  perms: string;
}

/** Nomad's change_script. */
export interface ChangeScript {
  command: string;
  /** Interpolated as the task's args are. */
  args: string[];
  timeoutMs: number;
  /** A failure (non-zero exit, timeout, no start) kills the task, as failed. */
  failOnError: boolean;
}

export type { TaskArtifact, VolumeMount, VolumeRequest } from "./task-storage.ts";
import type { TaskArtifact, VolumeMount, VolumeRequest } from "./task-storage.ts";

/**
 * Nomad's task lifecycle: prestart tasks run before the main tasks start
 * (ephemeral ones to completion), poststart tasks once they all run,
 * poststop tasks after they have stopped. A sidecar keeps running alongside
 * the main tasks (restarted by the restart policy); an ephemeral task is
 * not restarted once it exited 0.
 */
export interface TaskLifecycle {
  hook: "prestart" | "poststart" | "poststop";
  sidecar: boolean;
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
  /** Host volumes the group needs on its node, by the name its tasks mount them with. */
  volumes?: Record<string, VolumeRequest>;
}

export interface Job {
  id: string;
  namespace: string;
  type: JobType;
  priority: number;
  /** Constraints on every group of the job. */
  constraints: Constraint[];
  groups: TaskGroup[];
  /** Free-form key/values; a dispatched job's meta lands here (tasks see CORRAL_META_<KEY>). */
  meta?: Record<string, string>;
  /** A template launched on a schedule: each launch is a child job `ID/periodic-<unix time>`. */
  periodic?: PeriodicConfig;
  /** A template launched by `job dispatch`: each dispatch is a child job `ID/dispatch-<time>-<id>`. */
  parameterized?: ParameterizedConfig;
  /** Set on children of a periodic or parameterized job: the parent's id. */
  parentId?: string;
}

export interface PeriodicConfig {
  /** Cron expressions (5 or 6 fields, seconds first when 6); the next launch is the earliest of them. */
  crons: string[];
  /** IANA time zone the expressions are read in. */
  timeZone: string;
  /** Skip a launch while an earlier child still runs. */
  prohibitOverlap: boolean;
  enabled: boolean;
}

export interface ParameterizedConfig {
  payload: "optional" | "required" | "forbidden";
  metaRequired: string[];
  metaOptional: string[];
}

/** One problem of a job file (core/api/job-views.ts JobSpecError is the 400 answer that carries them). */
export interface JobSpecProblem {
  /** Key path like "groups[0].tasks[1].resources.cpu"; "" for the whole document. */
  path: string;
  message: string;
}

export type JobSpecResult = { ok: true; job: Job } | { ok: false; errors: JobSpecProblem[] };
