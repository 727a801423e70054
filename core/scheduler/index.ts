// Public surface of core/scheduler. Everything here is pure: no I/O, no clock,
// no Math.random. The leader builds a snapshot (or keeps a ClusterIndex
// current), calls schedule(), and proposes the returned Plan to core/state.

export * from "./types.ts";
export { parseJobSpec, validateJob, formatPath, parseDurationMs, JOBSPEC_LIMITS, MAX_JOBSPEC_CHARS } from "./jobspec.ts";
export type * from "./jobspec/types.ts";
export { schedule } from "./schedule.ts";
export {
  indexSnapshot,
  addAllocation,
  removeAllocation,
  upsertNode,
  isLive,
  jobKey,
  type ClusterIndex,
  type SchedNode,
} from "./cluster-index.ts";
export { EvalQueue, QUEUE_LIMITS, type Evaluation, type CapacityChange } from "./queue.ts";
export { drfOrder, dominantShare, jobDemand, type DrfInput } from "./drf.ts";
export { seededRng } from "./rng.ts";
export { candidateLimit, SMALL_CLUSTER_NODES, BATCH_CANDIDATES, SPREAD_CANDIDATES } from "./select.ts";
export { FEASIBILITY, RANKING } from "./pipeline.ts";
export { runsToCompletion, isSystemType } from "./jobspec/types.ts";
export { parseCron, nextCronTime, nextLaunch, validTimeZone, type CronSchedule } from "./cron.ts";
