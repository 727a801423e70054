// Consul's /v1/session API: create, destroy, info, node, list (blocking
// reads), renew. Shapes as Consul's (agent/session_endpoint.go); the model
// and its guarantees are in docs/coordination.md. Every change is a log
// entry (core/state/domains/sessions.ts) except a renewal, which only
// resets the active leader's timer (core/cluster/session-timers.ts).
import { randomUUID } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { blockingParams, checkDatacenter, setConsulHeaders } from "../http/consul.ts";
import { consulError } from "../http/errors.ts";
import { requestBody } from "../http/json-body.ts";
import { parseGoDuration } from "../config/duration.ts";
import type { SessionTimers } from "../cluster/session-timers.ts";
import { DEFAULT_LOCK_DELAY_MS, MAX_LOCK_DELAY_MS, SERF_HEALTH, SESSION_TTL_MAX_MS, type SessionSpec } from "../state/domains/sessions.ts";
import type { SessionRow } from "../store/schema.ts";
import { arrayBy, reads } from "../acl/filters.ts";
import { readScope } from "../acl/read-scope.ts";
import type { RoutePermission, SegmentHelpers } from "../acl/types.ts";
import type { CoreApiDeps } from "./deps.ts";
import { pathParam } from "./schemas.ts";

export const SessionView = z.object({
  ID: z.string(), Name: z.string(), Node: z.string(), LockDelay: z.number(), Behavior: z.string(), TTL: z.string(),
  NodeChecks: z.array(z.string()).nullable(), ServiceChecks: z.array(z.object({ ID: z.string() }).passthrough()).nullable(),
  CreateIndex: z.number(), ModifyIndex: z.number(),
}).passthrough().openapi("SessionEntry");

/** Consul's Session JSON: LockDelay in nanoseconds (a Go time.Duration). */
export function sessionView(s: SessionRow) {
  return {
    ID: s.id, Name: s.name, Node: s.node, LockDelay: s.lockDelayMs * 1e6, Behavior: s.behavior, TTL: s.ttl,
    // Checks: the deprecated union older clients read.
    Checks: [...s.nodeChecks, ...s.serviceChecks.map((c) => c.ID)],
    NodeChecks: s.nodeChecks, ServiceChecks: s.serviceChecks.length ? s.serviceChecks : null,
    CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex,
  };
}

export interface SessionRouteOptions {
  /** leader.session_ttl_min in ms. */
  ttlMinMs: number;
  /** Leader-role nodes: the TTL timers (renewals). Agents forward instead. */
  timers?: SessionTimers;
  /**
   * A quorum round confirming this node still leads (Raft read index).
   * A renewal is answered only after it: a deposed leader cut off from its
   * peers must not tell a holder its session lives on while a new leader's
   * timer runs (docs/coordination.md, fencing).
   */
  confirmLeader?: () => Promise<void>;
}

/** A field of a Consul body, matched case-insensitively as Consul's decoder does. */
function field(body: Record<string, unknown>, name: string): unknown {
  const k = Object.keys(body).find((key) => key.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : body[k];
}

/** Consul's FixupLockDelay: "15s", or a number (under 1000: seconds, else nanoseconds). */
export function lockDelayMs(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_LOCK_DELAY_MS;
  let ms: number | undefined;
  if (typeof v === "string") {
    const d = parseGoDuration(v);
    if (d === undefined) throw consulError(400, `Request decode failed: invalid LockDelay ${JSON.stringify(v)}`);
    ms = d < 1e-3 ? d * 1e3 * 1e6 : d; // a bare "5" would not parse; "5ns" is under Consul's threshold: seconds
  } else if (typeof v === "number" && Number.isFinite(v) && v >= 0) {
    ms = v < 1000 ? v * 1000 : v / 1e6;
  } else throw consulError(400, "Request decode failed: LockDelay must be a duration");
  if (ms > MAX_LOCK_DELAY_MS) throw consulError(400, `Session lock delay must be at most ${MAX_LOCK_DELAY_MS / 1000}s`);
  return Math.round(ms);
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x !== "" && x.length <= 256) || v.length > 64) {
    throw consulError(400, `Request decode failed: ${what} must be a list of check IDs`);
  }
  return v as string[];
}

/** The session a create request asks for (validated), before the node and checks are looked at. */
export async function parseCreate(c: Context, defaultNode: string, nodeKnown: (name: string) => boolean, ttlMinMs: number): Promise<SessionSpec> {
  const parsed = await requestBody(c);
  if (parsed.kind === "invalid") throw consulError(400, `Request decode failed: ${parsed.message}`);
  const raw = parsed.kind === "json" ? parsed.value : {};
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw consulError(400, "Request decode failed: expected a JSON object");
  const body = raw as Record<string, unknown>;
  const str = (name: string, max = 256): string => {
    const v = field(body, name);
    if (v === undefined || v === null) return "";
    if (typeof v !== "string" || v.length > max) throw consulError(400, `Request decode failed: ${name} must be a string of at most ${max} characters`);
    return v;
  };
  const node = str("Node") || defaultNode;
  const behavior = str("Behavior") || "release";
  if (behavior !== "release" && behavior !== "delete") throw consulError(400, `Invalid Behavior setting '${behavior}'`);
  const ttl = str("TTL", 32);
  if (ttl !== "") {
    const ms = parseGoDuration(ttl);
    if (ms === undefined) throw consulError(400, `Request decode failed: Session TTL '${ttl}' invalid`);
    if (ms !== 0 && (ms < ttlMinMs || ms > SESSION_TTL_MAX_MS)) {
      throw consulError(400, `Invalid Session TTL '${ttl}', must be between [${ttlMinMs / 1000}s=${SESSION_TTL_MAX_MS / 3_600_000}h0m0s]`);
    }
  }
  const checks = stringList(field(body, "Checks"), "Checks");
  const nodeChecks = stringList(field(body, "NodeChecks"), "NodeChecks");
  const svcRaw = field(body, "ServiceChecks");
  let serviceChecks: SessionSpec["serviceChecks"] = [];
  if (svcRaw !== undefined && svcRaw !== null) {
    if (!Array.isArray(svcRaw) || svcRaw.length > 64) throw consulError(400, "Request decode failed: ServiceChecks must be a list of { ID }");
    serviceChecks = svcRaw.map((s) => {
      const id = s && typeof s === "object" ? field(s as Record<string, unknown>, "ID") : undefined;
      if (typeof id !== "string" || id === "" || id.length > 256) throw consulError(400, "Request decode failed: ServiceChecks must be a list of { ID }");
      return { ID: id };
    });
  }
  // Consul binds a session to its node's serfHealth unless told otherwise. A
  // leader-role process registers no catalog node: its sessions bind to no check.
  if (!nodeKnown(node) && node.toLowerCase() !== defaultNode.toLowerCase()) throw consulError(500, "Missing node registration");
  const explicit = checks !== undefined || nodeChecks !== undefined || svcRaw !== undefined;
  const bound = explicit ? [...new Set([...(checks ?? []), ...(nodeChecks ?? [])])] : nodeKnown(node) ? [SERF_HEALTH] : [];
  return {
    id: randomUUID(), name: str("Name"), node, nodeChecks: bound, serviceChecks,
    lockDelayMs: lockDelayMs(field(body, "LockDelay")), behavior, ttl,
  };
}

/**
 * An agent names itself as the session's node before it forwards a create
 * (as a Consul agent fills in its own node name): the leader that applies
 * it cannot know which agent the client asked.
 */
async function withDefaultNode(c: Context, nodeName: string): Promise<Request> {
  const parsed = await requestBody(c);
  const body = parsed.kind === "json" ? parsed.value : parsed.kind === "empty" ? {} : undefined;
  if (!body || typeof body !== "object" || Array.isArray(body) || field(body as Record<string, unknown>, "Node")) return c.req.raw;
  const headers = new Headers(c.req.raw.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  return new Request(c.req.raw.url, { method: "PUT", headers, body: JSON.stringify({ ...(body as object), Node: nodeName }) });
}

const idParam = z.object({ id: z.string().max(64) });
const q = z.object({ dc: z.string().optional(), index: z.string().optional(), wait: z.string().optional(), stale: z.string().optional(), consistent: z.string().optional(), token: z.string().optional() });
const sessionList = { 200: { description: "Sessions", content: { "application/json": { schema: z.array(SessionView) } } } };

export function sessionRoutes(d: CoreApiDeps, o: SessionRouteOptions) {
  const status = () => d.replicator?.status();
  // The session's node, from this node's state on leaders and from a leader on agents
  // (core/acl/facts.ts): an agent holds no sessions, and deciding against "" would
  // refuse a session's owner there and let a broad rule past a deny on its node.
  const nodeOfSession = (c: Context, h: SegmentHelpers) => h.sessionNode(c.req.param("id") ?? "");

  const read = (path: string, summary: string, pick: (c: Context) => SessionRow[], permission: RoutePermission, params?: z.ZodObject) =>
    d.routes.add({
      owner: "core",
      route: createRoute({ method: "get", path, tags: ["session"], summary, request: { query: q, ...(params ? { params } : {}) }, responses: sessionList }),
      handler: async (c) => {
        checkDatacenter(c, d.host.datacenter);
        const p = blockingParams(c);
        // Each session by its node's session rule, before the index is taken: the index of a
        // list the token sees only part of moves only with what it sees (core/acl/read-scope.ts).
        const scope = readScope(c);
        const { index, value } = await d.state.blocking(
          { tables: ["sessions"], minIndex: p.index, waitMs: p.waitMs, signal: c.req.raw.signal },
          () => {
            if (scope.seesAll("session")) return { index: d.state.tableIndex("sessions"), value: pick(c) };
            const visible = scope.keep(pick(c), "session", (s) => s.node);
            return { index: visible.reduce((m, s) => Math.max(m, s.modifyIndex), 1), value: visible };
          },
        );
        setConsulHeaders(c, index, status(), p.consistency);
        return c.json(value.map(sessionView));
      },
      leader: "read",
      permission,
    });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "put", path: "/v1/session/create", tags: ["session"], summary: "Create a session (Consul's body: Name, Node, LockDelay, Behavior, TTL, NodeChecks, ServiceChecks)",
      request: { query: q },
      responses: { 200: { description: "The new session's ID", content: { "application/json": { schema: z.object({ ID: z.string() }) } } } },
    }),
    // An agent fills in its own name as the session's node before it forwards.
    leader: "forward",
    beforeForward: (c) => withDefaultNode(c, d.host.nodeName),
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const spec = await parseCreate(c, d.host.nodeName, (n) => d.state.catalog.nodeByName(n) !== undefined, o.ttlMinMs);
      const out = await d.propose({ type: "SessionCreate", v: 1, at: Date.now(), session: spec });
      if (!out.result.ok) throw consulError(500, out.result.message);
      return c.json({ ID: spec.id });
    },
    permission: { resource: "session", access: "write", segment: async (c) => {
      const parsed = await requestBody(c);
      const body = parsed.kind === "json" && parsed.value && typeof parsed.value === "object" ? (parsed.value as Record<string, unknown>) : {};
      const node = field(body, "Node");
      return typeof node === "string" && node !== "" ? node : d.host.nodeName;
    } },
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "put", path: "/v1/session/destroy/{id}", tags: ["session"], summary: "Destroy a session: its locks are released or its keys deleted (Behavior)",
      request: { params: idParam, query: q },
      responses: { 200: { description: "true", content: { "application/json": { schema: z.boolean() } } } },
    }),
    leader: "forward",
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const id = pathParam(c, "id");
      if (id === "") throw consulError(400, "Missing session");
      const out = await d.propose({ type: "SessionDestroy", v: 1, at: Date.now(), id, reason: "destroy" });
      return c.json(out.result.ok);
    },
    permission: { resource: "session", access: "write", segment: nodeOfSession },
  });

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "put", path: "/v1/session/renew/{id}", tags: ["session"], summary: "Renew a session's TTL (404 once it is gone)",
      request: { params: idParam, query: q },
      responses: { ...sessionList, 404: { description: "No such session" } },
    }),
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const id = pathParam(c, "id");
      // Only the active leader's timers count; the read gate sends a follower's renewal there.
      if (!o.timers?.isLeader()) throw consulError(500, "No cluster leader");
      await o.confirmLeader?.();
      if (!o.timers.isLeader()) throw consulError(500, "No cluster leader");
      const s = o.timers.renew(id);
      if (!s) throw consulError(404, `Session id '${id}' not found`);
      return c.json([sessionView(s)]);
    },
    // Answered by the active leader, where the timers run (core/http/read-gate.ts forwards).
    leader: "read",
    permission: { resource: "session", access: "write", segment: nodeOfSession },
  });

  read("/v1/session/info/{id}", "A session by ID (blocking query)", (c) => {
    const s = d.state.sessions.get(pathParam(c, "id"));
    return s ? [s] : [];
  }, { resource: "session", access: "read", segment: nodeOfSession }, idParam);
  read("/v1/session/node/{node}", "A node's sessions (blocking query)", (c) => d.state.sessions.list(pathParam(c, "node")),
    { resource: "session", access: "read", segment: (c) => c.req.param("node") ?? "" }, z.object({ node: z.string().max(256) }));
  read("/v1/session/list", "Every session (blocking query)", () => d.state.sessions.list(),
    { resource: "session", access: "read", filter: reads(["session"], arrayBy("session", "Node")) });
}
