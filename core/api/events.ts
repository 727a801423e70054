// GET /v1/events: the cluster's event stream as server-sent events
// (core/monitor/event-hub.ts). Served by every leader-role node from its own
// log, not forwarded to the leader: a follower holds the same committed log,
// so its stream is the same sequence with the same ids (at most a
// replication delay behind), and a client whose node dies resumes on any
// other with Last-Event-ID. Agents hold no log and pass the request on.
import { findDeployment } from "./deployment-views.ts";
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, badRequest } from "../http/errors.ts";
import type { EventHub } from "../monitor/event-hub.ts";
import { TOPICS, type ClusterEvent, type Topic } from "../state/events.ts";
import { aclReadScope } from "../acl/read-scope.ts";
import { eventVisible } from "../acl/event-rules.ts";
import type { CoreApiDeps } from "./deps.ts";
import { ErrorBody, errorResponses } from "./schemas.ts";

const LOG_INDEX = /^\d{1,15}$/;

const EventsQuery = z.object({
  topic: z.union([z.string().max(200), z.array(z.string().max(200)).max(16)]).optional().openapi({
    description: `Topics to receive, repeated or comma-separated: ${TOPICS.join(", ")}. Default: all`,
  }),
  index: z.string().regex(LOG_INDEX, "index must be a log index (a whole number)").optional().openapi({
    description: "Resume after this log index (Last-Event-ID, when sent, wins)",
  }),
});

const EventsHeaders = z.object({
  "last-event-id": z.string().regex(/^(\d{1,15})?$/, "Last-Event-ID must be a log index").optional(),
});

const TopicList = z.array(z.enum(TOPICS, { error: (iss) => `unknown topic ${JSON.stringify(iss.input)} (topics: ${TOPICS.join(", ")})` }));

/** ["node,kv", "leader"] → {node, kv, leader}; no topic: null (all of them). */
export function parseTopics(values: string[]): Set<Topic> | null {
  const words = values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
  if (words.length === 0) return null;
  const parsed = TopicList.safeParse(words);
  if (!parsed.success) throw badRequest(parsed.error.issues[0]?.message ?? "invalid topic");
  return new Set(parsed.data);
}

/** Last-Event-ID (an EventSource reconnecting) wins over ?index (the URL it was first opened with). */
export function resumeIndex(lastEventId: string | undefined, index: string | null): number | undefined {
  if (lastEventId) return Number(lastEventId);
  return index === null ? undefined : Number(index);
}

export function eventRoutes(d: CoreApiDeps, hub: EventHub | undefined) {
  const problem = (description: string) => ({ description, content: { "application/json": { schema: ErrorBody } } });
  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: "/v1/events", tags: ["events"],
      summary: "Cluster events as server-sent events; each id is the log index of the entry that caused it (resume with ?index or Last-Event-ID)",
      request: { query: EventsQuery, headers: EventsHeaders },
      responses: {
        200: { description: "An endless text/event-stream", content: { "text/event-stream": { schema: z.string() } } },
        ...errorResponses,
        429: problem("Too many open streams on this node (http.max_event_streams)"),
        503: problem("Shutting down, or an agent with no reachable leader"),
      },
    }),
    // An agent holds no log: it hands the stream to a leader.
    leader: "forward",
    handler: (c) => {
      if (!hub) {
        throw new ApiError(503, "NOT_A_LEADER_ROLE", "this node holds no log to stream events from");
      }
      const url = new URL(c.req.url);
      const topics = parseTopics(url.searchParams.getAll("topic"));
      const after = resumeIndex(c.req.header("last-event-id"), url.searchParams.get("index"));
      // event:read opens the stream; each event then needs read on what it describes.
      const scope = aclReadScope(c);
      const state = d.state;
      const visible = scope
        ? (e: ClusterEvent) => eventVisible(e, scope.authz, {
          jobOfAlloc: (id) => state.jobs.getAlloc(id)?.jobId,
          jobOfDeployment: (id) => findDeployment(state, id)?.jobId,
          nodeName: (id) => state.getNode(id)?.name,
        })
        : undefined;
      const body = hub.open({ after, topics, visible }, c.req.raw.signal);
      return new Response(body, {
        headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
      });
    },
  });
}
