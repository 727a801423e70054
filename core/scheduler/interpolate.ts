// Task interpolation, pure: `${...}` references in a task's args, env values,
// service tags and check paths, replaced by the values of the allocation and
// the node the task runs on (docs/jobs.md "Interpolation").
//
// One source of truth for names: the CORRAL_* variables a task can name are
// exactly the ones allocVariables() builds, which is also what the exec
// plugin exports as the task's environment (plugins/exec/env.ts). Validation
// at job submission asks allocVariables() with placeholder values which names
// exist, so a name is accepted at submission if and only if the agent has a
// value for it.
//
// The result is always an argv element, an env value, a tag or a path: never
// a shell line. Nothing here runs anything.
import type { PortAssignment } from "./types.ts";
import type { Job, Task } from "./jobspec/types.ts";
import { prepareTemplateData } from "../templates/data-refs.ts";

/** A template's references as parts (the Liquid text between them does not matter here). */
function templateParts(data: string): Parsed {
  const p = prepareTemplateData(data);
  return p.ok ? { ok: true, parts: p.refs.map((ref) => ({ ref })) } : p;
}

/** "http" → "HTTP", "metrics-v2" → "METRICS_V2": a port label as an environment variable suffix. */
export function envLabel(label: string): string {
  return label.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

export interface AllocFacts {
  allocId: string;
  jobId: string;
  namespace: string;
  group: string;
  index: number;
  task: Pick<Task, "name" | "resources">;
  allocDir: string;
  taskDir: string;
  /** The node's address other nodes reach (CORRAL_IP_*, CORRAL_ADDR_*). */
  host: string;
  ports: readonly PortAssignment[];
}

/** The CORRAL_* facts of an allocation, as the task's environment carries them. */
export function allocVariables(f: AllocFacts): Record<string, string> {
  const env: Record<string, string> = {
    CORRAL_ALLOC_ID: f.allocId,
    CORRAL_JOB_ID: f.jobId,
    CORRAL_NAMESPACE: f.namespace,
    CORRAL_GROUP: f.group,
    CORRAL_ALLOC_INDEX: String(f.index),
    CORRAL_TASK: f.task.name,
    CORRAL_ALLOC_DIR: f.allocDir,
    CORRAL_TASK_DIR: f.taskDir,
    CORRAL_CPU_LIMIT: String(f.task.resources.cpuMhz),
    CORRAL_MEMORY_LIMIT: String(f.task.resources.memoryMb),
  };
  for (const p of f.ports) {
    if (p.task !== f.task.name) continue;
    const l = envLabel(p.label);
    env[`CORRAL_PORT_${l}`] = String(p.value);
    env[`CORRAL_IP_${l}`] = f.host;
    env[`CORRAL_ADDR_${l}`] = `${f.host}:${p.value}`;
  }
  return env;
}

/**
 * Nomad's spellings of the same facts. A NOMAD_* name not listed here maps
 * to CORRAL_ + the same suffix (NOMAD_PORT_http → CORRAL_PORT_http).
 */
const NOMAD_ALIASES: Record<string, string> = {
  NOMAD_JOB_NAME: "CORRAL_JOB_ID",
  NOMAD_GROUP_NAME: "CORRAL_GROUP",
  NOMAD_TASK_NAME: "CORRAL_TASK",
  NOMAD_HOST_PORT: "CORRAL_PORT",
  NOMAD_HOST_IP: "CORRAL_IP",
  NOMAD_HOST_ADDR: "CORRAL_ADDR",
};

/** Names with a label suffix, written as in the job or as in the environment. */
const PER_PORT = /^CORRAL_(PORT|IP|ADDR|META)_(.+)$/;

/**
 * The environment key a CORRAL_* or NOMAD_* reference names, or undefined when
 * it is not such a reference. Port labels may be written as in the job
 * (`CORRAL_PORT_http`) or as in the environment (`CORRAL_PORT_HTTP`).
 */
export function canonicalName(name: string): string | undefined {
  let n = name;
  if (n.startsWith("NOMAD_")) {
    const alias = Object.keys(NOMAD_ALIASES).find((a) => n === a || n.startsWith(a + "_"));
    n = alias ? NOMAD_ALIASES[alias] + n.slice(alias.length) : "CORRAL_" + n.slice("NOMAD_".length);
  }
  if (!n.startsWith("CORRAL_")) return undefined;
  const m = PER_PORT.exec(n);
  return m ? `CORRAL_${m[1]}_${envLabel(m[2]!)}` : n;
}

// ---- parsing ---------------------------------------------------------------

export type Part = { text: string } | { ref: string };

export type Parsed = { ok: true; parts: Part[] } | { ok: false; error: string };

/** Names are what the job spec's keys allow, plus "." for attr.cpu.arch-like paths. */
const NAME = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;

/**
 * Splits `text` into literal text and `${name}` references. `$${` is a
 * literal `${`; a `$` not followed by `{` is literal. Unterminated, empty,
 * nested and malformed references are errors (a typo must not silently
 * become part of an argument).
 */
export function parseTemplate(text: string): Parsed {
  const parts: Part[] = [];
  let lit = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      lit += "${";
      i += 3;
      continue;
    }
    if (!text.startsWith("${", i)) {
      lit += text[i];
      i++;
      continue;
    }
    const close = text.indexOf("}", i + 2);
    const nested = text.indexOf("${", i + 2);
    if (close < 0) return { ok: false, error: `unterminated "\${" at character ${i + 1} (write "$\${" for a literal "\${")` };
    if (nested >= 0 && nested < close) return { ok: false, error: `nested "\${" at character ${nested + 1}: references cannot contain references` };
    const name = text.slice(i + 2, close).trim();
    if (name === "") return { ok: false, error: `empty reference "\${}" at character ${i + 1}` };
    if (!NAME.test(name)) return { ok: false, error: `"\${${name}}" is not a variable name (letters, digits, "_", "." and "-")` };
    if (lit) parts.push({ text: lit });
    lit = "";
    parts.push({ ref: name });
    i = close + 1;
  }
  if (lit) parts.push({ text: lit });
  return { ok: true, parts };
}

// ---- resolving -------------------------------------------------------------

/** The node a task runs on, as its registration says. */
export interface NodeFacts {
  id: string;
  name: string;
  datacenter: string;
  attributes: Record<string, string>;
  meta: Record<string, string>;
}

export interface Scope {
  /** The task's full environment: CORRAL_* facts, inherited variables and its own env. */
  env: Record<string, string>;
  node: NodeFacts;
  /** The task's port labels as the job writes them (for "have: http" in errors). */
  portLabels?: readonly string[];
}

export type Lookup = { ok: true; value: string } | { ok: false; error: string };

const NODE_FIELDS: Record<string, (n: NodeFacts) => string> = {
  "node.unique.id": (n) => n.id,
  "node.unique.name": (n) => n.name,
  "node.datacenter": (n) => n.datacenter,
  // The spellings constraints use (core/scheduler/attribute.ts).
  "node.id": (n) => n.id,
  "node.name": (n) => n.name,
};

/**
 * A key of a plain record, never of its prototype: `${constructor}` or
 * `${meta.__proto__}` must not find Object's functions.
 */
function own(record: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The value of one reference, or why there is none. */
export function lookup(name: string, scope: Scope): Lookup {
  const field = Object.hasOwn(NODE_FIELDS, name) ? NODE_FIELDS[name] : undefined;
  if (field) return { ok: true, value: field(scope.node) };
  const dot = name.indexOf(".");
  const ns = dot < 0 ? "" : name.slice(0, dot);
  const key = name.slice(dot + 1);
  if (ns === "attr" || ns === "meta") {
    const v = own(ns === "attr" ? scope.node.attributes : scope.node.meta, key);
    return v === undefined ? { ok: false, error: `node ${scope.node.name} has no ${ns === "attr" ? "attribute" : "meta"} "${key}" (\${${name}})` } : { ok: true, value: v };
  }
  if (ns === "env") {
    const v = own(scope.env, canonicalName(key) ?? key);
    return v === undefined ? { ok: false, error: `unknown variable \${${name}}: the task's environment has no ${key}` } : { ok: true, value: v };
  }
  // A bare name is a variable of the task's environment (as in Nomad: ${HOME}, ${CORRAL_PORT_http}).
  const v = own(scope.env, canonicalName(name) ?? name);
  return v === undefined ? { ok: false, error: unknownMessage(name, Object.keys(scope.env), scope.portLabels) } : { ok: true, value: v };
}

/** "unknown variable ${CORRAL_PORT_htp} (have: http)": the port labels when a port was meant. */
function unknownMessage(name: string, envKeys: string[], labels?: readonly string[]): string {
  const canon = canonicalName(name);
  const m = canon ? PER_PORT.exec(canon) : null;
  if (m && m[1] !== "META" && labels) return `unknown variable \${${name}} (have: ${labels.join(", ") || "no ports"})`;
  if (m) {
    const have = envKeys.filter((k) => k.startsWith(`CORRAL_${m[1]}_`)).map((k) => k.slice(`CORRAL_${m[1]}_`.length).toLowerCase());
    return `unknown variable \${${name}} (have: ${have.join(", ") || "none"})`;
  }
  if (canon) return `unknown variable \${${name}}`;
  return `unknown variable \${${name}}; use a variable of the task's environment (CORRAL_*, NOMAD_*, its env), node.unique.id, node.unique.name, node.datacenter, attr.<key>, meta.<key> or env.<VAR> (write $\${ for a literal \${)`;
}

export type Resolved = { ok: true; value: string } | { ok: false; error: string };

/** `text` with every reference replaced, or the first problem. */
export function interpolate(text: string, scope: Scope): Resolved {
  if (!text.includes("$")) return { ok: true, value: text };
  const p = parseTemplate(text);
  if (!p.ok) return p;
  let out = "";
  for (const part of p.parts) {
    if ("text" in part) out += part.text;
    else {
      const v = lookup(part.ref, scope);
      if (!v.ok) return v;
      out += v.value;
    }
  }
  return { ok: true, value: out };
}

// ---- a task as a whole -----------------------------------------------------

/** Every interpolated field of a task, with its key path below the task (input spelling). */
export function interpolatedFields(task: Task): Array<{ path: Array<string | number>; text: string }> {
  const out: Array<{ path: Array<string | number>; text: string }> = [];
  task.args.forEach((a, i) => out.push({ path: ["args", i], text: a }));
  for (const [k, v] of Object.entries(task.env)) out.push({ path: ["env", k], text: v });
  task.service?.tags.forEach((t, i) => out.push({ path: ["service", "tags", i], text: t }));
  task.service?.checks.forEach((c, i) => {
    if (c.path !== undefined) out.push({ path: ["service", "checks", i, "path"], text: c.path });
  });
  task.artifacts?.forEach((a, i) => {
    out.push({ path: ["artifacts", i, "source"], text: a.source }, { path: ["artifacts", i, "destination"], text: a.destination });
  });
  task.templates?.forEach((t, i) => t.changeScript?.args.forEach((a, j) => out.push({ path: ["templates", i, "change_script", "args", j], text: a })));
  return out;
}

/**
 * The task with its args, env values, service tags and check paths
 * interpolated, or the first problem with its field. Env values see the
 * task's environment as it is before interpolation (no chains between
 * variables, as in Nomad); args, tags and paths see the resolved env, so
 * `${X}` gives what the process finds in $X.
 */
export function resolveTask(task: Task, scope: Scope): { ok: true; task: Task } | { ok: false; field: string; error: string } {
  const r = (text: string, field: string, s: Scope): string => {
    const v = interpolate(text, s);
    if (!v.ok) throw new FieldError(field, v.error);
    return v.value;
  };
  try {
    const env = Object.fromEntries(Object.entries(task.env).map(([k, v]) => [k, r(v, `env.${k}`, scope)]));
    const after: Scope = { ...scope, env: { ...scope.env, ...env } };
    const args = task.args.map((a, i) => r(a, `args[${i}]`, after));
    const service = task.service && {
      ...task.service,
      tags: task.service.tags.map((t, i) => r(t, `service.tags[${i}]`, after)),
      checks: task.service.checks.map((c, i) => (c.path === undefined ? c : { ...c, path: r(c.path, `service.checks[${i}].path`, after) })),
    };
    // Artifact URLs and destinations too (as Nomad); the agent checks the destination again once resolved.
    const artifacts = task.artifacts?.map((a, i) => ({
      ...a, source: r(a.source, `artifacts[${i}].source`, after), destination: r(a.destination, `artifacts[${i}].destination`, after),
    }));
    // A change_script's args as the task's (its command, like the task's, is taken as written).
    const templates = task.templates?.map((t, i) => (t.changeScript ? {
      ...t, changeScript: { ...t.changeScript, args: t.changeScript.args.map((a, j) => r(a, `templates[${i}].change_script.args[${j}]`, after)) },
    } : t));
    return { ok: true, task: { ...task, args, env, ...(service ? { service } : {}), ...(artifacts ? { artifacts } : {}), ...(templates ? { templates } : {}) } };
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, field: e.field, error: e.message };
    throw e;
  }
}

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

// ---- validation at submission ----------------------------------------------

/** Variables a task inherits from the agent (plugins/exec/env.ts INHERITED_ENV re-exports this). */
export const INHERITED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"] as const;

/**
 * Why a reference cannot resolve on any node, or null when it may: CORRAL_*
 * names and env.* are checked against what the task will have; attr.* and
 * meta.* depend on the node (a missing one fails the task at start, naming
 * it; constrain the job on it to place only where it exists).
 */
export function referenceError(name: string, task: Task, taskEnvKeys: readonly string[]): string | null {
  if (Object.hasOwn(NODE_FIELDS, name)) return null;
  if (/^(attr|meta)\.[^.]/.test(name)) return null;
  const scope: Scope = {
    env: Object.fromEntries(taskEnvKeys.map((k) => [k, ""])), node: { id: "", name: "", datacenter: "", attributes: {}, meta: {} },
    portLabels: Object.keys(task.ports),
  };
  const v = lookup(name, scope);
  return v.ok ? null : v.error;
}

/** The environment keys a task will have, whatever node it lands on (`extra`: CORRAL_META_* of a template's children). */
export function plannedEnvKeys(task: Task, group: string, extra: readonly string[] = []): string[] {
  const ports = Object.keys(task.ports).map((label) => ({ task: task.name, label, value: 0, static: false }) satisfies PortAssignment);
  const facts = allocVariables({ allocId: "", jobId: "", namespace: "", group, index: 0, task, allocDir: "", taskDir: "", host: "", ports });
  return [...INHERITED_ENV, "LOGNAME", ...Object.keys(facts), ...Object.keys(task.env), ...extra];
}

export interface InterpolationIssue {
  /** Below the task: ["args", 1]. */
  path: Array<string | number>;
  message: string;
}

/** Every reference in a task that can never resolve, or is malformed. */
export function taskInterpolationIssues(task: Task, group: string, extra: readonly string[] = []): InterpolationIssue[] {
  const keys = plannedEnvKeys(task, group, extra);
  const issues: InterpolationIssue[] = [];
  const fields = [
    ...interpolatedFields(task).map((f) => ({ ...f, parsed: () => parseTemplate(f.text) })),
    // Template data: references in its text only, outside Liquid markup (core/templates/data-refs.ts).
    ...(task.templates ?? []).map((t, i) => ({ path: ["templates", i, "data"], text: t.data, parsed: () => templateParts(t.data) })),
  ];
  for (const f of fields) {
    if (!f.text.includes("$")) continue;
    const p = f.parsed();
    if (!p.ok) {
      issues.push({ path: f.path, message: p.error });
      continue;
    }
    for (const part of p.parts) {
      if (!("ref" in part)) continue;
      const err = referenceError(part.ref, task, keys);
      if (err) issues.push({ path: f.path, message: err });
    }
  }
  return issues;
}

/** Every interpolation problem of a job, with key paths as the job document spells them. */
export function jobInterpolationErrors(job: Pick<Job, "groups" | "meta" | "periodic" | "parameterized">): Array<{ path: string; message: string }> {
  // A periodic or parameterized job's children get its meta (and a dispatch's) as CORRAL_META_<KEY> (core/cluster/scheduling/children.ts).
  const metaKeys = job.periodic || job.parameterized
    ? [...Object.keys(job.meta ?? {}), ...(job.parameterized?.metaRequired ?? []), ...(job.parameterized?.metaOptional ?? [])]
    : [];
  const extra = metaKeys.map((k) => `CORRAL_META_${envLabel(k)}`);
  const out: Array<{ path: string; message: string }> = [];
  job.groups.forEach((g, gi) => g.tasks.forEach((t, ti) => {
    for (const issue of taskInterpolationIssues(t, g.name, extra)) {
      const below = issue.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
      out.push({ path: `groups[${gi}].tasks[${ti}]${below}`, message: issue.message });
    }
  }));
  return out;
}
