// Raw (validated, snake_case) document → Job (camelCase, ms, every default set).
// Defaults that depend on the job type follow Nomad's: a service restarts a
// couple of times and is rescheduled forever; a batch task retries more and is
// rescheduled once.

import { normalizeArtifact, normalizeVolumeMount, normalizeVolumes } from "./task-storage.ts";
import type { RawJob } from "./schema.ts";
import { canonicalCapability } from "../capabilities.ts";
import type {
  Constraint,
  ContainerSpec,
  Job,
  JobType,
  ReschedulePolicy,
  RestartPolicy,
  ServiceSpec,
  Task,
  TaskGroup,
  UpdateStrategy,
} from "./types.ts";

type RawGroup = RawJob["groups"][number];
type RawTask = RawGroup["tasks"][number];
type RawConstraint = RawJob["constraints"][number];

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

// system jobs are long-running like services; sysbatch tasks run to completion like batch.
const RESTART_DEFAULTS: Record<JobType, RestartPolicy> = {
  service: { attempts: 2, intervalMs: 30 * MINUTE_MS, delayMs: 15_000, mode: "fail" },
  system: { attempts: 2, intervalMs: 30 * MINUTE_MS, delayMs: 15_000, mode: "fail" },
  batch: { attempts: 3, intervalMs: 24 * HOUR_MS, delayMs: 15_000, mode: "fail" },
  sysbatch: { attempts: 3, intervalMs: 24 * HOUR_MS, delayMs: 15_000, mode: "fail" },
};

const RESCHEDULE_DEFAULTS: Record<JobType, ReschedulePolicy> = {
  service: { attempts: 0, intervalMs: 0, delayMs: 30_000, unlimited: true },
  system: { attempts: 0, intervalMs: 0, delayMs: 30_000, unlimited: true },
  batch: { attempts: 1, intervalMs: 24 * HOUR_MS, delayMs: 5_000, unlimited: false },
  sysbatch: { attempts: 1, intervalMs: 24 * HOUR_MS, delayMs: 5_000, unlimited: false },
};

const UPDATE_DEFAULTS: UpdateStrategy = {
  maxParallel: 1,
  minHealthyTimeMs: 10_000,
  healthyDeadlineMs: 5 * MINUTE_MS,
  autoRevert: false,
};

export function normalizeJob(raw: RawJob): Job {
  const job: Job = {
    id: raw.id,
    namespace: raw.namespace,
    type: raw.type,
    priority: raw.priority,
    constraints: raw.constraints.map(normalizeConstraint),
    groups: raw.groups.map((g) => normalizeGroup(raw, g)),
  };
  // Optional parts are left out when absent, so a job written before they
  // existed normalizes to the same spec (and is not a new version).
  if (Object.keys(raw.meta).length > 0) job.meta = raw.meta;
  if (raw.periodic) {
    job.periodic = {
      crons: raw.periodic.crons, timeZone: raw.periodic.time_zone,
      prohibitOverlap: raw.periodic.prohibit_overlap, enabled: raw.periodic.enabled,
    };
  }
  if (raw.parameterized) {
    job.parameterized = {
      payload: raw.parameterized.payload, metaRequired: raw.parameterized.meta_required, metaOptional: raw.parameterized.meta_optional,
    };
  }
  return job;
}

function normalizeConstraint(c: RawConstraint): Constraint {
  if (c.operator === "distinct_hosts") return { attribute: "", operator: c.operator, value: c.value ?? "true" };
  return { attribute: c.attribute ?? "", operator: c.operator, value: c.value ?? "" };
}

function normalizeGroup(job: RawJob, g: RawGroup): TaskGroup {
  const r = RESTART_DEFAULTS[job.type];
  const s = RESCHEDULE_DEFAULTS[job.type];
  return {
    name: g.name,
    count: g.count,
    constraints: g.constraints.map(normalizeConstraint),
    spread: g.spread.map((sp) => ({ attribute: sp.attribute, targets: sp.targets })),
    restart: {
      attempts: g.restart.attempts ?? r.attempts,
      intervalMs: g.restart.interval ?? r.intervalMs,
      delayMs: g.restart.delay ?? r.delayMs,
      mode: g.restart.mode ?? r.mode,
    },
    reschedule: {
      attempts: g.reschedule.attempts ?? s.attempts,
      intervalMs: g.reschedule.interval ?? s.intervalMs,
      delayMs: g.reschedule.delay ?? s.delayMs,
      unlimited: g.reschedule.unlimited ?? s.unlimited,
    },
    update: {
      maxParallel: g.update.max_parallel ?? UPDATE_DEFAULTS.maxParallel,
      minHealthyTimeMs: g.update.min_healthy_time ?? UPDATE_DEFAULTS.minHealthyTimeMs,
      healthyDeadlineMs: g.update.healthy_deadline ?? UPDATE_DEFAULTS.healthyDeadlineMs,
      autoRevert: g.update.auto_revert ?? UPDATE_DEFAULTS.autoRevert,
      // Only when asked for: a job without canaries normalizes as it did before they existed (same spec, same version).
      ...(g.update.canary ? { canary: g.update.canary } : {}),
      ...(g.update.auto_promote ? { autoPromote: true } : {}),
    },
    tasks: g.tasks.map((t) => normalizeTask(job, g, t)),
    ...(Object.keys(g.volumes).length ? { volumes: normalizeVolumes(g.volumes) } : {}),
  };
}

/** privileged, cap_add, cap_drop: only what is set (a job without them keeps its spec and version), names canonical. */
function containerSecurity(t: RawTask): Pick<ContainerSpec, "privileged" | "capAdd" | "capDrop"> {
  const canon = (names: string[]) => names.map((n) => canonicalCapability(n)!);
  return {
    ...(t.privileged ? { privileged: true } : {}),
    ...(t.cap_add?.length ? { capAdd: canon(t.cap_add) } : {}),
    ...(t.cap_drop?.length ? { capDrop: canon(t.cap_drop) } : {}),
  };
}

function normalizeTask(job: RawJob, g: RawGroup, t: RawTask): Task {
  const task: Task = {
    name: t.name,
    driver: t.driver,
    // A container's user is its image's (ContainerSpec.user), never the host user Task.user names (raw.ts reads that).
    ...(t.user !== undefined && t.driver !== "container" ? { user: t.user } : {}),
    ...(t.isolation !== undefined ? { isolation: t.isolation } : {}),
    ...(t.network_mode !== undefined ? { networkMode: t.network_mode } : {}),
    command: t.command ?? "",
    args: t.args,
    ...(t.driver === "container" && t.image !== undefined
      ? { container: { image: t.image, ...(t.entrypoint ? { entrypoint: t.entrypoint } : {}), ...(t.work_dir ? { workDir: t.work_dir } : {}), ...(t.user !== undefined ? { user: t.user } : {}), readonlyRootfs: t.readonly_rootfs ?? false, ...containerSecurity(t) } }
      : {}),
    env: t.env,
    resources: { cpuMhz: t.resources.cpu, memoryMb: t.resources.memory },
    ports: Object.fromEntries(
      // Only what is set: a job without `to` normalizes as before it existed (same spec, same version).
      Object.entries(t.ports).map(([label, p]) => [label, { ...(p.static === undefined ? {} : { static: p.static }), ...(p.to === undefined ? {} : { to: p.to }) }]),
    ),
  };
  if (t.service) task.service = normalizeService(job, g, t, t.service);
  if (t.dispatch_payload) task.dispatchPayload = { file: t.dispatch_payload.file };
  if (t.lifecycle) task.lifecycle = { hook: t.lifecycle.hook, sidecar: t.lifecycle.sidecar };
  // Only when used: a job without them normalizes as before (same spec, same version).
  if (t.artifacts.length) task.artifacts = t.artifacts.map(normalizeArtifact);
  if (t.volume_mounts.length) task.volumeMounts = t.volume_mounts.map(normalizeVolumeMount);
  // Only when used: a job without templates normalizes as before they existed (same spec, same version).
  if (t.templates.length) {
    task.templates = t.templates.map((x) => ({
      data: x.data, destination: x.destination, env: x.env, changeMode: x.change_mode,
      ...(x.change_signal !== undefined ? { changeSignal: x.change_signal } : {}), splayMs: x.splay, perms: x.perms,
      ...(x.change_script ? { changeScript: { command: x.change_script.command, args: x.change_script.args, timeoutMs: x.change_script.timeout, failOnError: x.change_script.fail_on_error } } : {}),
    }));
  }
  return task;
}

function normalizeService(job: RawJob, g: RawGroup, t: RawTask, svc: NonNullable<RawTask["service"]>): ServiceSpec {
  // Nomad's default service name: ${JOB}-${TASKGROUP}-${TASK}, made DNS-safe.
  const name = svc.name ?? `${job.id}-${g.name}-${t.name}`.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 63);
  const out: ServiceSpec = {
    name,
    tags: svc.tags,
    checks: svc.checks.map((c, i) => ({
      name: c.name ?? `${name}-${c.type}-${i}`,
      type: c.type,
      ...(c.path !== undefined ? { path: c.path } : {}),
      ...(c.grpc_service !== undefined ? { grpcService: c.grpc_service } : {}),
      ...(c.grpc_use_tls !== undefined ? { grpcUseTls: c.grpc_use_tls } : {}),
      intervalMs: c.interval,
      timeoutMs: c.timeout,
      ...(c.type === "ttl" ? { ttlMs: c.ttl ?? c.interval } : {}),
    })),
  };
  if (svc.port !== undefined) out.port = svc.port;
  return out;
}
