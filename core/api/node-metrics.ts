// GET /v1/node/{id}/metrics: a node's recent heartbeat metrics, aggregated
// per leader.metrics_resolution, from the leader's in-memory history
// (core/cluster/node-monitor.ts). A leader: "read" route: a follower hands it to
// the leader, which alone receives heartbeats (with ?stale a follower
// answers from its own, empty, history).
import { createRoute, z } from "@hono/zod-openapi";
import { parseDuration } from "../config/duration.ts";
import { ApiError, notFound } from "../http/errors.ts";
import type { NodeMonitor } from "../cluster/node-monitor.ts";
import type { CoreApiDeps } from "./deps.ts";
import { errorResponses, jsonResponse, pathParam } from "./schemas.ts";

const isDuration = (s: string) => {
  try {
    return parseDuration(s) >= 0;
  } catch {
    return false;
  }
};

const Since = z
  .string()
  .max(32)
  .refine((s) => /^\d{1,15}$/.test(s) || isDuration(s), {
    message: 'since must be ms since the epoch (e.g. 1767225600000) or a duration back from now (e.g. "5m")',
  });

/** `since` as ms since the epoch: a number is a time, a duration counts back from now. */
export function sinceMs(since: string | undefined, nowMs: number, retentionMs: number): number {
  if (since === undefined) return nowMs - retentionMs;
  if (/^\d+$/.test(since)) return Number(since);
  return nowMs - parseDuration(since);
}

const Point = z.object({
  time: z.number(), samples: z.number(), cpuPercentAvg: z.number(), cpuPercentMax: z.number(),
  memoryUsedBytesAvg: z.number(), memoryUsedBytesMax: z.number(), memoryAvailableBytesMin: z.number(), load1Avg: z.number(),
});

const NodeMetricsView = z
  .object({
    nodeId: z.string(), name: z.string(), since: z.number(), resolutionMs: z.number(), retentionMs: z.number(),
    health: z.object({ status: z.enum(["passing", "warning"]), reason: z.string(), changedAt: z.number() }),
    thresholds: z.object({ cpuPercent: z.number(), memoryPercent: z.number(), durationMs: z.number() }),
    latest: z.object({}).passthrough().nullable(),
    points: z.array(Point),
  })
  .openapi("NodeMetrics");

export function nodeMetricsRoutes(d: CoreApiDeps, monitor: NodeMonitor | undefined) {
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/node/{id}/metrics", tags: ["nodes"],
      summary: "A node's heartbeat metrics history (leader memory), aggregated per metrics_resolution",
      request: { params: z.object({ id: z.string().min(1).max(200) }), query: z.object({ since: Since.optional() }) },
      responses: { ...jsonResponse(NodeMetricsView), ...errorResponses },
    }),
    handler: (c) => {
      if (!monitor) throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node keeps no metrics history");
      const id = pathParam(c, "id");
      const n = d.state.getNode(id);
      if (!n) throw notFound(`no node with id or name "${id}"`, "NODE_NOT_FOUND");
      const { history, thresholds } = monitor.settings();
      const since = sinceMs(c.req.query("since"), Date.now(), history.retentionMs);
      return c.json({
        nodeId: n.id, name: n.name, since, resolutionMs: history.resolutionMs, retentionMs: history.retentionMs,
        health: { status: n.health, reason: n.healthReason, changedAt: n.healthChangedAt },
        thresholds,
        latest: d.membership?.latestSample(n.id) ?? null,
        points: monitor.points(n.id, since),
      });
    },
    leader: "read",
  });
}
