// Scheduler benchmark: 1,000 jobs × 100 allocations on 10,000 simulated
// nodes of varied sizes, one schedule() per job, sequentially, on one core.
// Each plan is committed into a ClusterIndex before the next job, as the
// leader would. Prints one JSON line:
//
//   placements_per_s  placements / total time inside schedule()
//   eval_p99_ms       99th percentile of one schedule() call
//   utilization_cpu   allocated CPU / offered CPU (capacity − reserved) of ready nodes
//   utilization_mem   the same for memory
//   fragmentation     share of the free capacity that sits on nodes unable to
//                     fit the median allocation (averaged over CPU and memory):
//                     0 = all free space is usable, 1 = none of it is
//
// Then SYSTEM system jobs (default 5: node agents of 100–400 MHz, one for
// amd64 nodes only) are scheduled on the filled cluster, each placing one
// allocation on every eligible node, with preemption on (as the leader runs
// system jobs); a second line reports them:
//
//   placements_per_s  system placements / time inside schedule()
//   eval_ms_max       the slowest system evaluation (one job over every node)
//   preempted         allocations evicted to make room
//   unplaced          eligible nodes left without the job (nothing evictable)
//   baseline_placements_per_s  the first line's placements_per_s, measured in
//                     this same run: on a shared machine load moves both, so
//                     the ratio compares, not the absolute numbers
//   ratio_to_baseline placements_per_s / baseline_placements_per_s
//
// Usage: npx bun bench/scheduler.ts [--nodes N] [--jobs N] [--count N] [--seed S] [--scale X] [--system N]

import {
  addAllocation,
  indexSnapshot,
  schedule,
  seededRng,
  validateJob,
  type AllocationView,
  type ClusterIndex,
  type Job,
  type NodeView,
  type Rng,
} from "../core/scheduler/index.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const NODES = Number(args.get("nodes") ?? 10_000);
const JOBS = Number(args.get("jobs") ?? 1_000);
const COUNT = Number(args.get("count") ?? 100);
const SEED = args.get("seed") ?? "corral-bench";
/** Multiplies every task size; the default fills the cluster to roughly 70%. */
const SCALE = Number(args.get("scale") ?? 2.4);
const SYSTEM = Number(args.get("system") ?? 5);

function pick<T>(rng: Rng, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [v, w] of items) if ((r -= w) < 0) return v;
  return items[items.length - 1]![0];
}

function makeNodes(rng: Rng): NodeView[] {
  const nodes: NodeView[] = [];
  for (let i = 0; i < NODES; i++) {
    const cores = pick(rng, [[2, 15], [4, 20], [8, 25], [16, 20], [32, 12], [64, 8]] as const);
    const mhz = 2000 + 100 * Math.floor(rng() * 16);
    const gbPerCore = pick(rng, [[2, 1], [4, 2], [8, 1]] as const);
    const memGb = Math.min(256, Math.max(4, cores * gbPerCore));
    nodes.push({
      id: `node-${i}`,
      name: `n${i}`,
      status: "ready",
      attributes: {
        "os.name": "linux",
        "cpu.arch": rng() < 0.8 ? "amd64" : "arm64",
        "kernel.version": pick(rng, [["5.15.0", 1], ["6.1.0", 2], ["6.8.0", 2]] as const),
      },
      meta: { rack: `r${i % 100}`, zone: `z${i % 3}` },
      resources: { cpuMhz: cores * mhz, memoryMb: memGb * 1024 },
      reserved: { cpuMhz: 200, memoryMb: 512 },
    });
  }
  return nodes;
}

function makeJob(rng: Rng, n: number): Job {
  const cpu = SCALE * pick(rng, [[250, 2], [500, 3], [1000, 3], [2000, 2], [4000, 1]] as const);
  const memory = SCALE * pick(rng, [[256, 2], [512, 3], [1024, 3], [2048, 2], [4096, 1], [8192, 1]] as const);
  const constraints = rng() < 0.1 ? [{ attribute: "${attr.cpu.arch}", value: "amd64" }] : [];
  if (rng() < 0.05) constraints.push({ operator: "distinct_hosts" } as never);
  if (rng() < 0.05) constraints.push({ attribute: "${attr.kernel.version}", operator: "version", value: ">= 6.0" } as never);
  const raw = {
    id: `job-${n}`,
    namespace: `ns-${n % 4}`,
    type: rng() < 0.2 ? "batch" : "service",
    priority: 30 + Math.floor(rng() * 41),
    groups: [
      {
        name: "main",
        count: COUNT,
        constraints,
        spread: rng() < 0.1 ? [{ attribute: "${meta.zone}" }] : [],
        tasks: [{ name: "app", command: "/bin/app", resources: { cpu: Math.round(cpu), memory: Math.round(memory) }, ports: rng() < 0.3 ? { http: {} } : {} }],
      },
    ],
  };
  const parsed = validateJob(raw);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.job;
}

function commit(index: ClusterIndex, job: Job, plan: ReturnType<typeof schedule>): void {
  for (const p of plan.placements) {
    const alloc: AllocationView = {
      id: `${job.id}/${p.group}[${p.taskGroupIndex}]`,
      jobId: job.id,
      namespace: job.namespace,
      group: p.group,
      nodeId: p.nodeId,
      priority: job.priority,
      resources: p.resources,
      ports: p.ports.map((x) => x.value),
      status: "pending",
      taskGroupIndex: p.taskGroupIndex,
    };
    addAllocation(index, alloc);
  }
}

function systemJob(n: number): Job {
  const parsed = validateJob({
    id: `sys-${n}`, namespace: "ops", type: "system", priority: 90,
    constraints: n === 1 ? [{ attribute: "${attr.cpu.arch}", value: "amd64" }] : [],
    groups: [{ name: "agent", tasks: [{ name: "run", command: "/bin/agent", resources: { cpu: 100 * (1 + (n % 4)), memory: 128 }, ports: n % 2 ? { metrics: {} } : {} }] }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.job;
}

/** System jobs on the filled cluster: one schedule() each over every node. */
function systemBench(index: ClusterIndex, baselinePerS: number): void {
  let placements = 0, preempted = 0, unplaced = 0, ms = 0, slowest = 0;
  for (let n = 0; n < SYSTEM; n++) {
    const job = systemJob(n);
    const t0 = performance.now();
    const plan = schedule(index, job, `eval-${job.id}`, { preemption: true });
    const dt = performance.now() - t0;
    ms += dt;
    slowest = Math.max(slowest, dt);
    placements += plan.placements.length;
    preempted += plan.stops.filter((s) => s.reason === "preempted").length;
    unplaced += plan.failedGroups.reduce((sum, g) => sum + g.missing, 0);
    for (const s of plan.stops) {
      const victim = index.allocs.get(s.allocId);
      if (victim) addAllocation(index, { ...victim, status: "stopped" });
    }
    commit(index, job, plan);
  }
  const perS = Math.round(placements / (ms / 1000));
  console.log(JSON.stringify({
    bench: "scheduler-system", nodes: NODES, jobs: SYSTEM, placements,
    placements_per_s: perS, eval_ms_max: Number(slowest.toFixed(1)), preempted, unplaced,
    baseline_placements_per_s: baselinePerS, ratio_to_baseline: Number((perS / baselinePerS).toFixed(3)),
  }));
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function fragmentation(index: ClusterIndex, medCpu: number, medMem: number): number {
  let freeCpu = 0, freeMem = 0, strandedCpu = 0, strandedMem = 0;
  for (const n of index.nodes) {
    const c = n.view.resources.cpuMhz - n.view.reserved.cpuMhz - n.usedCpuMhz;
    const m = n.view.resources.memoryMb - n.view.reserved.memoryMb - n.usedMemoryMb;
    freeCpu += c;
    freeMem += m;
    if (c < medCpu || m < medMem) {
      strandedCpu += c;
      strandedMem += m;
    }
  }
  return ((freeCpu > 0 ? strandedCpu / freeCpu : 0) + (freeMem > 0 ? strandedMem / freeMem : 0)) / 2;
}

function main(): void {
  const rng = seededRng(SEED);
  const index = indexSnapshot({ nodes: makeNodes(rng), allocations: [] });
  const jobs = Array.from({ length: JOBS }, (_, i) => makeJob(rng, i));
  const evalMs: number[] = [];
  let placements = 0;
  let scheduleMs = 0;
  for (const job of jobs) {
    const t0 = performance.now();
    const plan = schedule(index, job, `eval-${job.id}`);
    const dt = performance.now() - t0;
    evalMs.push(dt);
    scheduleMs += dt;
    placements += plan.placements.length;
    commit(index, job, plan);
  }
  let offCpu = 0, offMem = 0, useCpu = 0, useMem = 0;
  for (const n of index.nodes) {
    offCpu += n.view.resources.cpuMhz - n.view.reserved.cpuMhz;
    offMem += n.view.resources.memoryMb - n.view.reserved.memoryMb;
    useCpu += n.usedCpuMhz;
    useMem += n.usedMemoryMb;
  }
  const cpus = jobs.map((j) => j.groups[0]!.tasks[0]!.resources.cpuMhz).sort((a, b) => a - b);
  const mems = jobs.map((j) => j.groups[0]!.tasks[0]!.resources.memoryMb).sort((a, b) => a - b);
  evalMs.sort((a, b) => a - b);
  const round = (x: number, d = 3) => Number(x.toFixed(d));
  const perS = Math.round(placements / (scheduleMs / 1000));
  console.log(
    JSON.stringify({
      bench: "scheduler",
      nodes: NODES,
      placements,
      placements_per_s: perS,
      eval_p99_ms: round(percentile(evalMs, 0.99)),
      utilization_cpu: round(useCpu / offCpu),
      utilization_mem: round(useMem / offMem),
      fragmentation: round(fragmentation(index, percentile(cpus, 0.5), percentile(mems, 0.5))),
    }),
  );
  if (SYSTEM > 0) systemBench(index, perS);
}

main();
