// A task group compiled for placement: resources summed over its tasks,
// constraints turned into predicates once per evaluation (regexps and version
// ranges parsed once, not once per node), ports split into static and dynamic.

import { compileAttribute, type AttributeReader } from "./attribute.ts";
import type { Constraint, Job, JobType, TaskGroup } from "./jobspec/types.ts";
import type { NodeView, Resources } from "./types.ts";
import { isolationRequirement } from "./isolation.ts";
import { driverRequirements } from "./raw.ts";
import { containerRequirement, containerSecurityRequirements } from "./container.ts";
import { hostVolumeChecks } from "./host-volumes.ts";
import { compileRegex } from "./regex.ts";
import { parseVersion, parseVersionRange } from "./version.ts";

export interface CompiledConstraint {
  /** Shown in rejection reasons, e.g. "constraint ${attr.os.name} = linux". */
  text: string;
  test: (node: NodeView) => boolean;
}

export interface CompiledSpread {
  attribute: string;
  read: AttributeReader;
  /** value → desired percent. Empty: spread evenly. */
  targets: Map<string, number>;
  /** Percent left for values without a target (Nomad's implicit "*"). */
  otherPercent: number;
}

export interface PortAsk {
  task: string;
  label: string;
  static?: number;
}

export interface GroupAsk {
  namespace: string;
  jobId: string;
  jobType: JobType;
  priority: number;
  group: string;
  count: number;
  resources: Resources;
  ports: PortAsk[];
  staticPorts: number[];
  dynamicPorts: number;
  constraints: CompiledConstraint[];
  /** "job": no two allocs of the job on a node; "group": of this group. */
  distinctHosts: "job" | "group" | null;
  spreads: CompiledSpread[];
}

export function compileAsk(job: Job, group: TaskGroup): GroupAsk {
  const resources = { cpuMhz: 0, memoryMb: 0 };
  const ports: PortAsk[] = [];
  for (const task of group.tasks) {
    resources.cpuMhz += task.resources.cpuMhz;
    resources.memoryMb += task.resources.memoryMb;
    for (const [label, spec] of Object.entries(task.ports)) {
      ports.push(spec.static === undefined ? { task: task.name, label } : { task: task.name, label, static: spec.static });
    }
  }
  const staticPorts = ports.flatMap((p) => (p.static === undefined ? [] : [p.static]));
  const all = [...job.constraints, ...group.constraints];
  const wantsDistinct = (cs: Constraint[]) => cs.some((c) => c.operator === "distinct_hosts" && c.value !== "false");
  return {
    namespace: job.namespace,
    jobId: job.id,
    jobType: job.type,
    priority: job.priority,
    group: group.name,
    count: group.count,
    resources,
    ports,
    staticPorts,
    dynamicPorts: ports.length - staticPorts.length,
    constraints: [...all.filter((c) => c.operator !== "distinct_hosts").map(compileConstraint), ...driverConstraints(group), ...hostVolumeChecks(group)],
    distinctHosts: wantsDistinct(job.constraints) ? "job" : wantsDistinct(group.constraints) ? "group" : null,
    spreads: group.spread.map((s) => {
      const targets = new Map(s.targets.map((t) => [t.value, t.percent]));
      const used = s.targets.reduce((acc, t) => acc + t.percent, 0);
      return { attribute: s.attribute, read: compileAttribute(s.attribute), targets, otherPercent: Math.max(0, 100 - used) };
    }),
  };
}

/** Where the group's tasks may run at all (raw.ts): a node reporting its driver off is no candidate. */
function driverConstraints(group: TaskGroup): CompiledConstraint[] {
  const out = driverRequirements(group.tasks).map(({ attribute, reason }) => ({
    text: `driver: ${reason}`,
    test: (n: NodeView) => n.attributes[attribute] !== "false",
  }));
  // Tasks that demand isolation (isolation.ts): only where the exec driver reported it can give it.
  const ctr = containerRequirement(group.tasks);
  if (ctr) out.push({ text: `driver: ${ctr.reason}`, test: (n: NodeView) => (n.attributes[ctr.attribute] ?? "") !== "" });
  // Privileged containers and added capabilities: only where the node's agent allows them.
  for (const req of containerSecurityRequirements(group.tasks)) out.push({ text: `driver: ${req.reason}`, test: (n: NodeView) => req.test(n.attributes) });
  const iso = isolationRequirement(group.tasks);
  if (iso) out.push({ text: `driver: ${iso.reason}`, test: (n: NodeView) => n.attributes[iso.attribute] === iso.value });
  return out;
}

/**
 * Nomad's semantics: "=" needs the attribute present; "!=" holds when it is
 * missing; regexp and version need it present (and parseable).
 */
export function compileConstraint(c: Constraint): CompiledConstraint {
  const read = compileAttribute(c.attribute);
  const text = `constraint ${c.attribute} ${c.operator} ${c.value}`;
  switch (c.operator) {
    case "=":
      return { text, test: (n) => read(n) === c.value };
    case "!=":
      return { text, test: (n) => read(n) !== c.value };
    case "regexp": {
      // RE2, never a backtracking RegExp: a job writer must not be able to freeze the leader (regex.ts).
      const re = compileRegex(c.value);
      if (!re.ok) return { text: `${text} (${re.error})`, test: () => false };
      return { text, test: (n) => { const v = read(n); return v !== undefined && re.test(v); } };
    }
    case "version": {
      const parsed = parseVersionRange(c.value);
      if (!parsed.ok) return { text, test: () => false };
      const range = parsed.range;
      return { text, test: (n) => { const v = read(n); const ver = v === undefined ? null : parseVersion(v); return ver !== null && range(ver); } };
    }
    case "distinct_hosts":
      return { text, test: () => true }; // enforced by the distinct-hosts check, not here
  }
}
