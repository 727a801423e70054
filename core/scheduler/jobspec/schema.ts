// zod schema for the raw (snake_case) job document. Shape checks live in the
// schema; rules that span fields (unique names, port labels that must exist,
// percents that must add up) are superRefine steps on the object that owns
// them, so each error carries the key path of the offending field.
// normalize.ts turns the parsed value into the camelCase Job.

import { parseImageRef } from "../image-ref.ts";
import { CONTAINER_USER_MAX, parseContainerUser } from "../container-user.ts";
import { canonicalCapability } from "../capabilities.ts";
import { LIMITS_STORAGE, artifactSpec, checkVolumeMounts, groupVolumesSpec, volumeMountSpec } from "./task-storage.ts";
import { z } from "zod";
import { attributeError } from "../attribute.ts";
import { compileRegex } from "../regex.ts";
import { parseVersionRange } from "../version.ts";
import { parseDurationMs } from "./duration.ts";
import { parseCron, validTimeZone } from "../cron.ts";
import { TEMPLATE_LIMITS, templateError } from "../../templates/engine.ts";
import { parseSignal } from "../signals.ts";
import { SERVICE_NAME, SERVICE_NAME_MAX } from "./submission-names.ts";

/** Bounds on one job document (STYLE: a limit on everything). */
export const LIMITS = {
  groups: 100,
  tasksPerGroup: 50,
  countPerGroup: 10_000,
  constraints: 64,
  spreads: 8,
  portsPerTask: 32,
  checksPerService: 16,
  nameChars: 128,
  crons: 16,
  metaKeys: 64,
} as const;

/**
 * Cross-field rules run even when a nested field already failed, so one pass
 * reports every problem. The value may then be partly unparsed: a rule that
 * trips over that (a TypeError) is skipped, the nested error already speaks.
 */
const ALWAYS = { when: () => true };
function lenient<T>(rule: (value: T, ctx: z.RefinementCtx) => void): (value: T, ctx: z.RefinementCtx) => void {
  return (value, ctx) => {
    try {
      rule(value, ctx);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
    }
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;
const PORT_LABEL = /^[A-Za-z_][A-Za-z0-9_\-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An exec task's host user name (useradd's portable set); uids are not accepted: a name says who is meant. A container's user is another thing (container-user.ts). */
const USER_NAME = /^[a-z_][a-z0-9_.\-]{0,31}$/;

const name = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(LIMITS.nameChars, `${what} must be at most ${LIMITS.nameChars} characters`)
    .regex(NAME, `${what} may contain letters, digits, "_", "." and "-", and must start with a letter or digit`);

const duration = z.string().transform((text, ctx) => {
  const ms = parseDurationMs(text);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration; use Go-style strings like "10s", "1m30s" or "500ms"` });
    return z.NEVER;
  }
  return ms;
});

const int = (min: number, max: number) =>
  z.number().int(`must be a whole number`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const constraint = z
  .strictObject({
    attribute: z.string().max(512, "must be at most 512 characters").optional(),
    operator: z.enum(["=", "!=", "regexp", "version", "distinct_hosts"]).default("="),
    value: scalarString.pipe(z.string().max(1024, "must be at most 1024 characters")).optional(),
  })
  .superRefine(lenient((c, ctx) => {
    if (c.operator === "distinct_hosts") {
      if (c.value !== undefined && c.value !== "true" && c.value !== "false") {
        ctx.addIssue({ code: "custom", path: ["value"], message: `distinct_hosts takes "true" or "false"` });
      }
      return;
    }
    if (!c.attribute) ctx.addIssue({ code: "custom", path: ["attribute"], message: `required for operator "${c.operator}"` });
    else {
      const bad = attributeError(c.attribute);
      if (bad) ctx.addIssue({ code: "custom", path: ["attribute"], message: bad });
    }
    if (c.value === undefined) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `required for operator "${c.operator}"` });
      return;
    }
    if (c.operator === "regexp") {
      const re = compileRegex(c.value);
      if (!re.ok) ctx.addIssue({ code: "custom", path: ["value"], message: re.error });
    }
    if (c.operator === "version") {
      const r = parseVersionRange(c.value);
      if (!r.ok) ctx.addIssue({ code: "custom", path: ["value"], message: r.error });
    }
  }), ALWAYS);

const spread = z
  .strictObject({
    attribute: z.string().min(1),
    targets: z
      .array(z.strictObject({ value: scalarString, percent: z.number().min(0).max(100) }))
      .default([]),
  })
  .superRefine(lenient((s, ctx) => {
    const bad = attributeError(s.attribute);
    if (bad || !s.attribute.startsWith("${")) {
      ctx.addIssue({ code: "custom", path: ["attribute"], message: bad ?? `spread needs a node attribute like "\${meta.rack}"` });
    }
    const sum = s.targets.reduce((acc, t) => acc + t.percent, 0);
    if (sum > 100) ctx.addIssue({ code: "custom", path: ["targets"], message: `target percents add up to ${sum}, more than 100` });
    uniqueBy(s.targets, (t) => t.value, ctx, ["targets"], "value", "target value");
  }), ALWAYS);

const restart = z.strictObject({
  attempts: int(0, 1000).optional(),
  interval: duration.optional(),
  delay: duration.optional(),
  mode: z.enum(["fail", "delay"]).optional(),
});

const reschedule = z.strictObject({
  attempts: int(0, 1000).optional(),
  interval: duration.optional(),
  delay: duration.optional(),
  unlimited: z.boolean().optional(),
});

const update = z
  .strictObject({
    max_parallel: int(0, LIMITS.countPerGroup).optional(),
    min_healthy_time: duration.optional(),
    healthy_deadline: duration.optional(),
    auto_revert: z.boolean().optional(),
    /** New-version allocations placed beside the old ones on a destructive change, until promoted (Nomad's canary). */
    canary: int(0, LIMITS.countPerGroup).optional(),
    /** Promote once every canary is healthy, without `corral deployment promote`. */
    auto_promote: z.boolean().optional(),
  })
  .superRefine(lenient((u, ctx) => {
    if (u.min_healthy_time !== undefined && u.healthy_deadline !== undefined && u.min_healthy_time >= u.healthy_deadline) {
      ctx.addIssue({ code: "custom", path: ["min_healthy_time"], message: "must be shorter than healthy_deadline" });
    }
  }), ALWAYS);

const check = z
  .strictObject({
    name: z.string().min(1).optional(),
    type: z.enum(["http", "tcp", "grpc", "ttl"]),
    path: z.string().optional(),
    // Nomad's grpc check fields: the service asked about (grpc.health.v1) and TLS to the task.
    grpc_service: z.string().max(256).optional(),
    grpc_use_tls: z.boolean().optional(),
    interval: duration.default(10_000),
    timeout: duration.default(2_000),
    ttl: duration.optional(),
  })
  .superRefine(lenient((c, ctx) => {
    if (c.type === "http" && !c.path) ctx.addIssue({ code: "custom", path: ["path"], message: "required for http checks" });
    if (c.path !== undefined && !c.path.startsWith("/")) ctx.addIssue({ code: "custom", path: ["path"], message: `must start with "/"` });
    if (c.path !== undefined && c.type !== "http") ctx.addIssue({ code: "custom", path: ["path"], message: "only http checks take a path" });
    for (const k of ["grpc_service", "grpc_use_tls"] as const) {
      if (c[k] !== undefined && c.type !== "grpc") ctx.addIssue({ code: "custom", path: [k], message: "only grpc checks take it" });
    }
    if (c.interval <= 0) ctx.addIssue({ code: "custom", path: ["interval"], message: "must be longer than 0" });
    if (c.timeout <= 0) ctx.addIssue({ code: "custom", path: ["timeout"], message: "must be longer than 0" });
  }), ALWAYS);

const service = z.strictObject({
  // A name with "${" is checked once resolved, at submission (submission-names.ts).
  name: z.string().max(256).refine((n) => n.includes("$") || (SERVICE_NAME.test(n) && n.length <= SERVICE_NAME_MAX), "must be a DNS label: letters, digits and \"-\", at most 63").optional(),
  tags: z.array(z.string()).default([]),
  port: z.string().optional(),
  checks: z.array(check).max(LIMITS.checksPerService).default([]),
});

// Nomad's change_script: run in the task's sandbox, as its user, when the template re-renders.
const changeScript = z.strictObject({
  command: z.string().min(1, "must not be empty").max(1024),
  args: z.array(z.string().max(4096)).max(64).default([]),
  timeout: duration.default(5_000),
  fail_on_error: z.boolean().default(false),
}).superRefine(lenient((s, ctx) => {
  if (s.timeout <= 0 || s.timeout > 10 * 60_000) ctx.addIssue({ code: "custom", path: ["timeout"], message: "must be longer than 0 and at most 10m" });
}), ALWAYS);

// A task template (docs/jobs.md "Templates"): inline data only. There is no
// `source`: a path would be read by the agent, as root, from the host.
const template = z
  .strictObject({
    data: z.string().min(1, "must not be empty").superRefine((d, ctx) => {
      const err = templateError(d);
      if (err) ctx.addIssue({ code: "custom", message: err });
    }),
    destination: z.string().min(1, "must not be empty").max(256, "must be at most 256 characters"),
    env: z.boolean().default(false),
    change_mode: z.enum(["restart", "signal", "noop", "script"], { error: `change_mode is "restart", "signal", "script" or "noop"` }).default("restart"),
    change_signal: z.string().optional(),
    change_script: changeScript.optional(),
    splay: duration.default(5_000),
    perms: z.string().regex(/^0?[0-7]{3}$/, `perms is an octal file mode like "0644"`).default("0644"),
  })
  .superRefine(lenient((t, ctx) => {
    const dest = t.destination;
    if (dest.startsWith("/") || dest.split("/").some((p) => p === ".." || p === "") || dest.includes("\0")) {
      ctx.addIssue({ code: "custom", path: ["destination"], message: "must be a relative path inside the task directory (no leading \"/\", no \"..\", no empty parts)" });
    }
    if (t.change_mode === "signal") {
      if (t.change_signal === undefined) ctx.addIssue({ code: "custom", path: ["change_signal"], message: `change_mode "signal" needs change_signal` });
      else if (!parseSignal(t.change_signal)) ctx.addIssue({ code: "custom", path: ["change_signal"], message: `"${t.change_signal}" is not a signal a task may be sent` });
    } else if (t.change_signal !== undefined) {
      ctx.addIssue({ code: "custom", path: ["change_signal"], message: `change_signal is for change_mode "signal"` });
    }
    if (t.change_mode === "script" && t.change_script === undefined) ctx.addIssue({ code: "custom", path: ["change_script"], message: `change_mode "script" needs change_script { command, args, timeout, fail_on_error }` });
    if (t.change_mode !== "script" && t.change_script !== undefined) ctx.addIssue({ code: "custom", path: ["change_script"], message: `change_script is for change_mode "script"` });
  }), ALWAYS);

/** Linux capability names, checked at submission (capabilities.ts): a typo is a 400 naming it, not a task that fails on a node. */
const capabilityList = z.array(z.string().max(64).refine((n) => canonicalCapability(n) !== undefined, {
  error: (iss) => `unknown capability ${JSON.stringify(iss.input)} (Linux names such as "net_admin" or "CAP_NET_ADMIN", or "all")`,
})).max(64);

/** Which fields belong to which driver: a container task names an image; exec tasks a command. */
function checkContainerFields(
  t: {
    driver: string; command?: string; image?: string; entrypoint?: string[]; work_dir?: string; readonly_rootfs?: boolean; user?: string; isolation?: string;
    network_mode?: string; ports?: Record<string, { to?: number }>; privileged?: boolean; cap_add?: string[]; cap_drop?: string[];
  },
  ctx: z.RefinementCtx,
): void {
  if (t.driver !== "container") {
    if (t.command === undefined) ctx.addIssue({ code: "custom", path: ["command"], message: "required" });
    // `to` maps a host port into a network namespace of the allocation's own: only containers have one.
    for (const [label, p] of Object.entries(t.ports ?? {})) {
      if (p.to !== undefined) ctx.addIssue({ code: "custom", path: ["ports", label, "to"], message: "to (the port inside the container) is for the container driver" });
    }
    for (const f of ["image", "entrypoint", "work_dir", "readonly_rootfs", "privileged", "cap_add", "cap_drop"] as const) {
      if (t[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: `${f} is for the container driver` });
    }
    return;
  }
  if (t.image === undefined) ctx.addIssue({ code: "custom", path: ["image"], message: "a container task needs an image (\"registry:port/name:tag\" or \"…@sha256:<hex>\")" });
  else {
    try {
      parseImageRef(t.image);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["image"], message: (err as Error).message });
    }
  }
  // privileged has every capability already: adding or dropping some would say something that does not hold.
  if (t.privileged) {
    for (const f of ["cap_add", "cap_drop"] as const) {
      if (t[f]?.length) ctx.addIssue({ code: "custom", path: [f], message: `${f} has no meaning with privileged = true (a privileged container has every capability)` });
    }
  }
  if (t.isolation !== undefined) ctx.addIssue({ code: "custom", path: ["isolation"], message: "isolation is for the exec driver (a container always runs in its own namespaces)" });
  // A container's user is its image's (name, uid, name:group, uid:gid), looked up in the image when it
  // starts: only the form is checked here. "root" is the container's root, not the node's (raw.ts).
  if (t.user !== undefined) {
    try {
      parseContainerUser(t.user);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["user"], message: (err as Error).message });
    }
  }
  // A container's network (docs/containers.md "Network"): its allocation's own namespace (default), the
  // node's ("host": it listens on the allocated port itself, `to` has no meaning), or none at all.
  if (t.network_mode !== undefined) {
    for (const [label, p] of Object.entries(t.ports ?? {})) {
      if (t.network_mode === "none") ctx.addIssue({ code: "custom", path: ["ports", label], message: `network_mode "none" has no network to reach a port on` });
      else if (p.to !== undefined) ctx.addIssue({ code: "custom", path: ["ports", label, "to"], message: `with network_mode "host" the container listens on the allocated port itself; to needs its own network (leave network_mode out)` });
    }
  }
}

const task = z
  .strictObject({
    name: name("task name"),
    driver: z.enum(["exec", "raw_exec", "container"], { error: `the drivers are "exec", "raw_exec" and "container"` }).default("exec"),
    /** exec: a host user name (USER_NAME); container: the image's user, "name", "uid", "name:group" or "uid:gid" (container-user.ts). Checked per driver below. */
    user: z.string().max(CONTAINER_USER_MAX, `user must be at most ${CONTAINER_USER_MAX} characters`).optional(),
    /** Exec driver: "required" runs only isolated (never placed where driver.exec.isolation is not "namespaces"); "best-effort" (default) isolates where the node can. */
    isolation: z.enum(["required", "best-effort"], { error: `isolation is "required" or "best-effort"` }).optional(),
    /** Exec driver: "none" gives the task its own empty network namespace (implies isolation "required"); "host" (default) shares the node's. Container driver: its allocation's own namespace by default, "host" or "none". */
    network_mode: z.enum(["host", "none"], { error: `network_mode is "host" or "none"` }).optional(),
    /** exec and raw_exec: required. container: replaces the image's Cmd (with args after it). */
    command: z.string().min(1, "must not be empty").optional(),
    args: z.array(z.string()).default([]),
    // The container driver (docs/containers.md): the image, and what of its config the task overrides.
    image: z.string().min(1, "must not be empty").max(512, "must be at most 512 characters").optional(),
    entrypoint: z.array(z.string()).max(256).optional(),
    work_dir: z.string().min(1).max(4096).refine((d) => d.startsWith("/"), "an absolute path inside the container").optional(),
    readonly_rootfs: z.boolean().optional(),
    /** Container driver, Nomad docker's: every capability, no seccomp, the node's devices; only where the node allows it. */
    privileged: z.boolean().optional(),
    /** Container driver: capabilities added to / dropped from the default set ("net_admin", "CAP_NET_ADMIN"; "all"). */
    cap_add: capabilityList.optional(),
    cap_drop: capabilityList.optional(),
    env: z.record(z.string(), scalarString).default({}),
    resources: z
      .strictObject({ cpu: int(1, 10_000_000).default(100), memory: int(1, 100_000_000).default(300) })
      .default({ cpu: 100, memory: 300 }),
    /** static: the host port (else allocated); to (container tasks): the port inside the container it maps to. */
    ports: z.record(z.string(), z.strictObject({ static: int(1, 65535).optional(), to: int(1, 65535).optional() })).default({}),
    service: service.optional(),
    dispatch_payload: z.strictObject({ file: z.string().min(1).max(256) }).optional(),
    // Nomad's task lifecycle: when the task runs relative to the group's main tasks (docs/jobs.md).
    lifecycle: z.strictObject({
      hook: z.enum(["prestart", "poststart", "poststop"], { error: `the hooks are "prestart", "poststart" and "poststop"` }),
      sidecar: z.boolean().default(false),
    }).optional(),
    // Files fetched by the agent before the task starts, and host volumes bound into its folder (task-storage.ts).
    artifacts: z.array(artifactSpec).max(LIMITS_STORAGE.artifactsPerTask).default([]),
    volume_mounts: z.array(volumeMountSpec).max(LIMITS_STORAGE.mountsPerTask).default([]),
    templates: z.array(template).max(TEMPLATE_LIMITS.perTask, `at most ${TEMPLATE_LIMITS.perTask} templates per task`).default([]),
  })
  .superRefine(lenient((t, ctx) => {
    if (t.lifecycle?.hook === "poststop" && t.lifecycle.sidecar) {
      ctx.addIssue({ code: "custom", path: ["lifecycle", "sidecar"], message: "a poststop task runs once the main tasks have stopped; it cannot be a sidecar" });
    }
    const file = t.dispatch_payload?.file;
    if (file !== undefined && (file.startsWith("/") || file.split("/").includes(".."))) {
      ctx.addIssue({ code: "custom", path: ["dispatch_payload", "file"], message: "must be a relative path inside the task directory (no leading \"/\", no \"..\")" });
    }
    for (const key of Object.keys(t.env)) {
      if (!ENV_NAME.test(key)) ctx.addIssue({ code: "custom", path: ["env", key], message: "not a valid environment variable name" });
    }
    const labels = Object.keys(t.ports);
    if (labels.length > LIMITS.portsPerTask) ctx.addIssue({ code: "custom", path: ["ports"], message: `at most ${LIMITS.portsPerTask} ports` });
    for (const label of labels) {
      if (!PORT_LABEL.test(label)) ctx.addIssue({ code: "custom", path: ["ports", label], message: "port labels are letters, digits, \"_\" and \"-\"" });
    }
    if (t.driver === "raw_exec" && (t.isolation !== undefined || t.network_mode !== undefined)) {
      ctx.addIssue({ code: "custom", path: [t.isolation !== undefined ? "isolation" : "network_mode"], message: "raw_exec tasks are never isolated; isolation and network_mode are for the exec driver" });
    }
    if (t.isolation === "best-effort" && t.network_mode === "none") {
      ctx.addIssue({ code: "custom", path: ["network_mode"], message: `network_mode "none" needs isolation; it cannot be "best-effort"` });
    }
    checkContainerFields(t, ctx);
    if (t.driver === "exec" && t.user !== undefined && !USER_NAME.test(t.user)) {
      ctx.addIssue({ code: "custom", path: ["user"], message: "a user name: lowercase letters, digits, \"_\", \".\" and \"-\", at most 32, starting with a letter or \"_\"" });
    }
    if (t.driver === "raw_exec" && t.user !== undefined) {
      ctx.addIssue({ code: "custom", path: ["user"], message: `raw_exec runs as the agent's own user; "user" is for the exec driver` });
    }
    const seen = new Map<string, number>();
    t.templates.forEach((tpl, i) => {
      if (tpl.env) return;
      const prev = seen.get(tpl.destination);
      if (prev !== undefined) ctx.addIssue({ code: "custom", path: ["templates", i, "destination"], message: `templates[${prev}] writes the same file` });
      seen.set(tpl.destination, i);
    });
    const svc = t.service;
    if (!svc) return;
    if (svc.port !== undefined && !(svc.port in t.ports)) {
      ctx.addIssue({ code: "custom", path: ["service", "port"], message: `no port labelled "${svc.port}" in this task (have: ${labels.join(", ") || "none"})` });
    }
    svc.checks.forEach((c, i) => {
      if (c.type !== "ttl" && svc.port === undefined) {
        ctx.addIssue({ code: "custom", path: ["service", "checks", i, "type"], message: `${c.type} checks need service.port` });
      }
    });
  }), ALWAYS);

const group = z
  .strictObject({
    name: name("group name"),
    count: int(0, LIMITS.countPerGroup).default(1),
    constraints: z.array(constraint).max(LIMITS.constraints).default([]),
    spread: z.array(spread).max(LIMITS.spreads).default([]),
    restart: restart.default({}),
    reschedule: reschedule.default({}),
    update: update.default({}),
    tasks: z.array(task).min(1, "a group needs at least one task").max(LIMITS.tasksPerGroup),
    volumes: groupVolumesSpec,
  })
  .superRefine(lenient((g, ctx) => {
    uniqueBy(g.tasks, (t) => t.name, ctx, ["tasks"], "name", "task name");
    checkVolumeMounts(g, ctx);
    if (g.tasks.length > 0 && g.tasks.every((t) => t.lifecycle !== undefined)) {
      ctx.addIssue({ code: "custom", path: ["tasks"], message: "a group needs at least one main task (a task without lifecycle)" });
    }
    const seen = new Map<number, string>();
    g.tasks.forEach((t, i) => {
      for (const [label, p] of Object.entries(t.ports)) {
        if (p.static === undefined) continue;
        const other = seen.get(p.static);
        if (other) {
          ctx.addIssue({ code: "custom", path: ["tasks", i, "ports", label, "static"], message: `static port ${p.static} is already used by ${other}` });
        } else seen.set(p.static, `task "${t.name}" port "${label}"`);
      }
    });
  }), ALWAYS);

const cronText = z.string().superRefine((text, ctx) => {
  const r = parseCron(text);
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.error });
});

const periodic = z.strictObject({
  crons: z.array(cronText).min(1, "at least one cron expression").max(LIMITS.crons),
  time_zone: z.string().max(64).default("UTC").superRefine((zone, ctx) => {
    if (!validTimeZone(zone)) ctx.addIssue({ code: "custom", message: `unknown time zone "${zone}" (an IANA name such as "UTC" or "Europe/Berlin")` });
  }),
  prohibit_overlap: z.boolean().default(false),
  enabled: z.boolean().default(true),
});

const META_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const metaKey = z.string().max(128).regex(META_KEY, "meta keys are letters, digits and \"_\", not starting with a digit");

const parameterized = z.strictObject({
  payload: z.enum(["optional", "required", "forbidden"]).default("optional"),
  meta_required: z.array(metaKey).max(LIMITS.metaKeys).default([]),
  meta_optional: z.array(metaKey).max(LIMITS.metaKeys).default([]),
});

export const jobSchema = z
  .strictObject({
    id: name("job id"),
    namespace: name("namespace").default("default"),
    type: z.enum(["service", "batch", "system", "sysbatch"]).default("service"),
    priority: int(1, 100).default(50),
    meta: z.record(metaKey, scalarString).default({}),
    constraints: z.array(constraint).max(LIMITS.constraints).default([]),
    periodic: periodic.optional(),
    parameterized: parameterized.optional(),
    groups: z.array(group).min(1, "a job needs at least one group").max(LIMITS.groups),
  })
  .superRefine(lenient((j, ctx) => {
    uniqueBy(j.groups, (g) => g.name, ctx, ["groups"], "name", "group name");
    const completes = j.type === "batch" || j.type === "sysbatch";
    // As Nomad: templates launch work that ends; a periodic service would pile up copies.
    if (j.periodic && !completes) ctx.addIssue({ code: "custom", path: ["periodic"], message: `only batch and sysbatch jobs can be periodic (this one is "${j.type}")` });
    if (j.parameterized && !completes) ctx.addIssue({ code: "custom", path: ["parameterized"], message: `only batch and sysbatch jobs can be parameterized (this one is "${j.type}")` });
    if (j.periodic && j.parameterized) ctx.addIssue({ code: "custom", path: ["periodic"], message: "a job is periodic or parameterized, not both" });
    if (j.type === "system" || j.type === "sysbatch") {
      j.groups.forEach((g, i) => {
        if (g.count > 1) ctx.addIssue({ code: "custom", path: ["groups", i, "count"], message: `a ${j.type} job runs one allocation per node; count must be 0 or 1` });
      });
    }
    const p = j.parameterized;
    if (p) for (const k of p.meta_optional) if (p.meta_required.includes(k)) ctx.addIssue({ code: "custom", path: ["parameterized", "meta_optional"], message: `"${k}" is already in meta_required` });
  }), ALWAYS);

export type RawJob = z.output<typeof jobSchema>;

function uniqueBy<T>(
  items: T[],
  key: (item: T) => string,
  ctx: z.RefinementCtx,
  path: (string | number)[],
  field: string,
  what: string,
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) {
      ctx.addIssue({ code: "custom", path: [...path, i, field], message: `duplicate ${what} "${k}" (also at index ${first})` });
    } else seen.set(k, i);
  });
}
