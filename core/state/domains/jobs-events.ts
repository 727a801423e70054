// The event stream's view of job commands (core/state/events.ts spreads
// these into its exhaustive mapper table). Like every event mapper, a
// function of the command only: a refused plan still yields its event, and
// a consumer re-reads the state for the outcome. Large commands are
// summarised (a plan lists at most EVENT_LIST_MAX placements).
import type { CommandOf } from "../commands.ts";
import { statusReportsOf } from "./jobs-commands.ts";

type Mapped = { topic: "job" | "allocation" | "node"; type: string; payload: Record<string, unknown> };

const EVENT_LIST_MAX = 100;

export const jobEventMappers = {
  RegisterJob: (c: CommandOf<"RegisterJob">): Mapped[] => [{
    topic: "job", type: "JobRegistered",
    payload: { namespace: c.job.namespace, jobId: c.job.id, type: c.job.type, priority: c.job.priority, evalId: c.evalId, revertedFrom: c.revertedFrom },
  }],
  DeregisterJob: (c: CommandOf<"DeregisterJob">): Mapped[] => [{
    topic: "job", type: "JobDeregistered", payload: { namespace: c.namespace, jobId: c.jobId, purge: c.purge, evalId: c.evalId },
  }],
  CommitPlan: (c: CommandOf<"CommitPlan">): Mapped[] => [{
    topic: "allocation", type: "PlanCommitted",
    payload: {
      namespace: c.namespace, jobId: c.jobId, evalId: c.evalId, evalStatus: c.evalStatus,
      placed: c.placements.length, stopped: c.stops.length,
      placements: c.placements.slice(0, EVENT_LIST_MAX).map((p) => ({ id: p.id, nodeId: p.nodeId, group: p.group, index: p.taskGroupIndex })),
      stops: c.stops.slice(0, EVENT_LIST_MAX).map((s) => ({ allocId: s.allocId, description: s.description })),
    },
  }],
  // One event per update, as many as the agents' separate entries gave (a v2 entry carries several reports).
  UpdateAllocStatus: (c: CommandOf<"UpdateAllocStatus">): Mapped[] =>
    statusReportsOf(c).flatMap((r) => r.updates.map((u) => ({
      topic: "allocation" as const, type: "AllocationStatusReported",
      payload: { allocId: u.allocId, nodeId: r.nodeId, clientStatus: u.clientStatus, description: u.description },
    }))),
  UpdateEvaluation: (c: CommandOf<"UpdateEvaluation">): Mapped[] =>
    c.evals.slice(0, EVENT_LIST_MAX).map((e) => ({
      topic: "job" as const, type: "EvaluationUpdated",
      payload: { evalId: e.id, namespace: e.namespace, jobId: e.jobId, status: e.status, triggeredBy: e.triggeredBy },
    })),
  UpdateDeployment: (c: CommandOf<"UpdateDeployment">): Mapped[] => [
    ...c.deployments.map((d) => ({ topic: "job" as const, type: "DeploymentStatusChanged", payload: { deploymentId: d.id, status: d.status, description: d.description } })),
    ...c.health.slice(0, EVENT_LIST_MAX).map((h) => ({ topic: "allocation" as const, type: "AllocationHealth", payload: { allocId: h.allocId, healthy: h.healthy } })),
  ],
  LaunchChildJob: (c: CommandOf<"LaunchChildJob">): Mapped[] => [{
    topic: "job", type: "JobLaunched",
    payload: { namespace: c.namespace, jobId: c.job.id, parentId: c.parentId, kind: c.kind, evalId: c.evalId },
  }],
  DrainNode: (c: CommandOf<"DrainNode">): Mapped[] => [{
    topic: "node", type: c.enable ? "NodeDrainStarted" : "NodeDrainCancelled", payload: { id: c.nodeId, deadlineMs: c.deadlineMs },
  }],
};
