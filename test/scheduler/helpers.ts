// Builders for scheduler tests: small, explicit clusters and jobs.
import { validateJob } from "../../core/scheduler/jobspec.ts";
import type { Job } from "../../core/scheduler/jobspec/types.ts";
import type { AllocationView, NodeView } from "../../core/scheduler/types.ts";

export function node(id: string, over: Partial<NodeView> & { cpu?: number; mem?: number } = {}): NodeView {
  const { cpu = 4000, mem = 8192, ...rest } = over;
  return {
    id,
    name: id,
    status: "ready",
    attributes: { "os.name": "linux", "cpu.arch": "amd64" },
    meta: {},
    resources: { cpuMhz: cpu, memoryMb: mem },
    reserved: { cpuMhz: 0, memoryMb: 0 },
    ...rest,
  };
}

let allocSeq = 0;
export function alloc(nodeId: string, over: Partial<AllocationView> & { cpu?: number; mem?: number } = {}): AllocationView {
  const { cpu = 1000, mem = 1024, ...rest } = over;
  return {
    id: `a${++allocSeq}`,
    jobId: "other",
    namespace: "default",
    group: "g",
    nodeId,
    priority: 50,
    resources: { cpuMhz: cpu, memoryMb: mem },
    ports: [],
    status: "running",
    ...rest,
  };
}

export interface JobOpts {
  id?: string;
  namespace?: string;
  type?: Job["type"];
  priority?: number;
  count?: number;
  cpu?: number;
  mem?: number;
  constraints?: unknown[];
  jobConstraints?: unknown[];
  spread?: unknown[];
  ports?: Record<string, { static?: number }>;
}

/** A one-group, one-task job, validated through the real spec parser. */
export function job(o: JobOpts = {}): Job {
  const raw = {
    id: o.id ?? "web",
    namespace: o.namespace ?? "default",
    type: o.type ?? "service",
    priority: o.priority ?? 50,
    constraints: o.jobConstraints ?? [],
    groups: [
      {
        name: "g",
        count: o.count ?? 1,
        constraints: o.constraints ?? [],
        spread: o.spread ?? [],
        tasks: [{ name: "t", command: "/bin/true", resources: { cpu: o.cpu ?? 1000, memory: o.mem ?? 1024 }, ports: o.ports ?? {} }],
      },
    ],
  };
  const r = validateJob(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.job;
}

import { compileAsk } from "../../core/scheduler/ask.ts";
import { indexSnapshot } from "../../core/scheduler/cluster-index.ts";
import { createEvalContext, resolveOptions } from "../../core/scheduler/eval-context.ts";
import { seededRng } from "../../core/scheduler/rng.ts";
import type { ScheduleOptions } from "../../core/scheduler/types.ts";

/** An evaluation context for calling one check or ranker directly. */
export function evalFixture(nodes: NodeView[], allocs: AllocationView[], j: Job, opts: ScheduleOptions = {}) {
  const index = indexSnapshot({ nodes, allocations: allocs });
  const ctx = createEvalContext(index, j, seededRng("fixture"), resolveOptions(opts), new Set());
  const ask = compileAsk(j, j.groups[0]!);
  return { index, ctx, ask, node: (id: string) => index.byId.get(id)! };
}
