// What every core and built-in plugin route needs, in one ordered table.
// A route may declare its own permission (RouteEntry.permission,
// ctx.route(def, handler, { permission })); this table is consulted when it
// does not. A route found in neither is "undeclared": with ACLs on it needs
// operator:write (fail closed), and test/acl/route-permissions.test.ts fails
// naming it — add it here, or declare it where the route is mounted.
//
// Keys are the method and the path exactly as written in createRoute
// ("/v1/kv/{key{.*}}"). Hidden routes (405 answers for other methods on a
// path) take the permission of the visible route on the same path.
import type { Context } from "hono";
import { parsedJobSpec } from "../api/job-views.ts";
import { metaTargetNode } from "../api/node-meta.ts";
import { arrayBy, checksArray, kvFilter, mapKeys, mapValuesBy, reads } from "./filters.ts";
import type { PermissionSpec, Resource, RoutePermission, SegmentHelpers, Want } from "./types.ts";

type Segment = NonNullable<PermissionSpec["segment"]>;

const param = (name: string): Segment => (c) => c.req.param(name) ?? "";
const self: Segment = (_c, h) => h.selfName;
const nodeParam = (name: string): Segment => (c, h) => h.nodeName(c.req.param(name) ?? "");
/** The node a /v1/client/metadata request names (?node_id or the body's NodeID), found as its handler finds it. */
const metaNode: Segment = async (c, h) => {
  const id = await metaTargetNode(c);
  return id ? h.nodeName(id) : h.selfName;
};
const need = (resource: Resource, access: Want, segment?: Segment, extra: Partial<PermissionSpec> = {}): PermissionSpec => ({ resource, access, segment, ...extra });
const flagged = (c: Context, ...names: string[]) => names.some((n) => new URL(c.req.url).searchParams.has(n));

/**
 * POST /v1/jobs: job write on the document's id, from the parse the handler
 * uses (job "" when it does not parse: then job_prefix "" is needed, to the
 * 400). And service write on every service its tasks declare: the node that
 * runs a task registers them in the catalog with its own token, so without
 * this a job-only token could put instances under any service's name (as
 * Nomad asks for a Consul token allowed to write a job's services).
 */
const jobAndItsServices: NonNullable<PermissionSpec["target"]> = async (c) => {
  let parsed: Awaited<ReturnType<typeof parsedJobSpec>>;
  try {
    parsed = await parsedJobSpec(c);
  } catch {
    return { resource: "job", segment: "" };
  }
  if (!parsed.ok) return { resource: "job", segment: "" };
  const services = parsed.job.groups.flatMap((g) => g.tasks.flatMap((t) => (t.service ? [t.service.name] : [])));
  return [{ resource: "job", segment: parsed.job.id }, ...services.map((name) => ({ resource: "service" as const, segment: name }))];
};

/** POST /v1/validate/job: job read on the document's id (job "" when it does not parse, as for a register). */
const documentJob: NonNullable<PermissionSpec["target"]> = async (c) => {
  const parsed = await parsedJobSpec(c).catch(() => undefined);
  return { resource: "job", segment: parsed?.ok ? parsed.job.id : "" };
};

const operatorRead = need("operator", "read");
const operatorWrite = need("operator", "write");

/** [methods, path or prefix ("/v1/raft/*"), permission]; first match wins. */
export const ROUTE_PERMISSIONS: ReadonlyArray<readonly [string, string, RoutePermission]> = [
  ["GET", "/v1/healthz", "none"],
  ["*", "/v1/cluster/*", "peer"],
  ["*", "/v1/raft/*", "peer"],
  // status and identity
  ["GET", "/v1/openapi.json", operatorRead],
  ["GET", "/v1/operator/routes", operatorRead],
  ["GET", "/v1/status/leader", operatorRead],
  ["GET", "/v1/status/peers", operatorRead],
  ["GET", "/v1/agent/self", need("agent", "read", self)],
  ["GET", "/v1/agent/metrics", need("agent", "read", self)],
  ["GET", "/metrics", need("agent", "read", self)],
  ["GET", "/v1/probe", need("agent", "read", self)],
  ["GET", "/v1/events", need("event", "read")],
  // nodes
  ["GET", "/v1/nodes", need("node", "read", undefined, { filter: reads(["node"], arrayBy("node", "name")) })],
  ["GET", "/v1/node/{id}", need("node", "read", nodeParam("id"))],
  ["GET", "/v1/node/{id}/metrics", need("node", "read", nodeParam("id"))],
  ["GET", "/v1/node/{id}/allocations", need("node", "read", nodeParam("id"))],
  ["POST", "/v1/node/{id}/drain", need("node", "write", nodeParam("id"))],
  // Dynamic node meta (core/api/node-meta.ts): the node ?node_id (or a POST body's NodeID) names, this node without either.
  ["GET", "/v1/client/metadata", need("node", "read", metaNode)],
  ["POST", "/v1/client/metadata", need("node", "write", metaNode)],
  // plugins
  ["GET", "/v1/plugins", need("plugin", "read", undefined, { filter: reads(["plugin"], arrayBy("plugin", "name")) })],
  ["GET", "/v1/plugins/{name}", need("plugin", "read", param("name"))],
  ["PUT", "/v1/plugins/{name}", need("plugin", "write", param("name"))],
  ["POST", "/v1/plugins/{name}/reload", need("plugin", "write", param("name"))],
  // KV (Consul: listings are filtered, a recursive delete needs write on the whole subtree)
  ["GET", "/v1/kv/{key{.*}}", need("key", "read", param("key"), { filter: reads(["key"], kvFilter), filterWhen: (c) => flagged(c, "recurse", "keys") })],
  ["PUT", "/v1/kv/{key{.*}}", need("key", "write", param("key"))],
  ["DELETE", "/v1/kv/{key{.*}}", need("key", "write", param("key"), { subtree: (c) => flagged(c, "recurse") })],
  // variables (docs/variables.md): rules name paths; the list shows each path by its own rule
  ["GET", "/v1/var/{path{.+}}", need("variable", "read", param("path"))],
  ["PUT,DELETE", "/v1/var/{path{.+}}", need("variable", "write", param("path"))],
  ["GET", "/v1/vars", need("variable", "read", undefined, { filter: reads(["variable"], arrayBy("variable", "Path")) })],
  ["POST", "/v1/operator/keyring/rotate", operatorWrite],
  ["GET", "/v1/operator/keyring/keys", operatorRead],
  ["PUT", "/v1/system/gc", operatorWrite],
  // operator
  ["GET", "/v1/operator/raft", operatorRead],
  ["GET", "/v1/operator/raft/configuration", operatorRead],
  ["POST", "/v1/operator/raft/peers", operatorWrite],
  ["DELETE", "/v1/operator/raft/peers/{address}", operatorWrite],
  ["POST", "/v1/operator/raft/transfer-leader", operatorWrite],
  // A snapshot holds every token's hash and policy, and a restore replaces them: management only.
  ["GET", "/v1/snapshot", need("acl", "write")],
  ["PUT", "/v1/snapshot", need("acl", "write")],
  // jobs (rules name jobs by id; namespaces are not part of the name)
  ["GET", "/v1/jobs", need("job", "read", undefined, { filter: reads(["job"], arrayBy("job", "id")) })],
  ["POST", "/v1/jobs", need("job", "write", undefined, { target: jobAndItsServices })],
  ["GET", "/v1/job/{id}", need("job", "read", param("id"))],
  ["DELETE", "/v1/job/{id}", need("job", "write", param("id"))],
  ["POST", "/v1/job/{id}/plan", need("job", "write", param("id"))],
  ["POST", "/v1/validate/job", need("job", "read", undefined, { target: documentJob })],
  // Launching a child of a template is a write on the template (the child's id starts with it).
  ["POST", "/v1/job/{id}/dispatch", need("job", "write", param("id"))],
  ["POST", "/v1/job/{id}/periodic/force", need("job", "write", param("id"))],
  ["GET", "/v1/job/{id}/allocations", need("job", "read", param("id"))],
  ["GET", "/v1/job/{id}/versions", need("job", "read", param("id"))],
  // and service write / operator:write for what the reverted version declares (core/api/job-versions.ts)
  ["POST", "/v1/job/{id}/revert", need("job", "write", param("id"))],
  ["GET", "/v1/job/{id}/evaluations", need("job", "read", param("id"))],
  ["GET", "/v1/evaluations", need("job", "read", undefined, { filter: reads(["job"], arrayBy("job", "jobId")) })],
  ["GET", "/v1/evaluation/{id}", need("job", "read", (c, h) => h.jobOfEval(c.req.param("id") ?? ""))],
  // deployments (core/api/deployments.ts): reads need job read, promote and fail job write, on the deployment's job
  ["GET", "/v1/deployments", need("job", "read", undefined, { filter: reads(["job"], arrayBy("job", "JobID")) })],
  ["GET", "/v1/deployment/{id}", need("job", "read", (c, h) => h.jobOfDeployment(c.req.param("id") ?? ""))],
  ["GET", "/v1/job/{id}/deployments", need("job", "read", param("id"))],
  ["POST", "/v1/deployment/promote/{id}", need("job", "write", (c, h) => h.jobOfDeployment(c.req.param("id") ?? ""))],
  ["POST", "/v1/deployment/fail/{id}", need("job", "write", (c, h) => h.jobOfDeployment(c.req.param("id") ?? ""))],
  ["GET", "/v1/allocations", need("job", "read", undefined, { filter: reads(["job"], arrayBy("job", "jobId")) })],
  ["GET", "/v1/allocation/{id}", need("job", "read", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  ["GET", "/v1/alloc/{id}/logs", need("job", "read", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  // Operating an allocation (Nomad's alloc-lifecycle capability) is a write on its job.
  ["PUT,POST", "/v1/allocation/{id}/stop", need("job", "write", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  ["PUT,POST", "/v1/client/allocation/{id}/restart", need("job", "write", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  ["PUT,POST", "/v1/client/allocation/{id}/signal", need("job", "write", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  // Running a command inside a task (Nomad's alloc-exec capability) is its own rule, on the allocation's job:
  // job write alone does not grant it (a deployer need not get a shell in what runs). Raw tasks also need
  // operator:write (checked by the node that runs the task: plugins/exec/exec-routes.ts).
  // The same on GET: the interactive session, a WebSocket (plugins/exec/exec-ws.ts).
  // A browser's session sends its token in the first frame (Nomad's ?ws_handshake=true): checked late, by the
  // handler, with this same rule, before it starts anything.
  ["GET", "/v1/client/allocation/{id}/exec", need("alloc_exec", "write", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""), {
    lateToken: (c) => new URL(c.req.url).searchParams.get("ws_handshake") === "true",
  })],
  ["POST", "/v1/client/allocation/{id}/exec", need("alloc_exec", "write", (c, h) => h.jobOfAlloc(c.req.param("id") ?? ""))],
  // discovery: catalog and health reads (agent routes declare their own, see plugins/discovery/permissions.ts)
  // Consul needs no token for the datacenter list; any token that resolves will do here.
  ["GET", "/v1/catalog/datacenters", "authenticated"],
  ["GET", "/v1/catalog/nodes", need("node", "read", undefined, { filter: reads(["node"], arrayBy("node", "Node")) })],
  ["GET", "/v1/catalog/services", need("service", "read", undefined, { filter: reads(["service"], mapKeys("service")) })],
  ["GET", "/v1/catalog/service/{service{.*}}", need("service", "read", param("service"))],
  ["GET", "/v1/catalog/node/{node{.*}}", need("node", "read", param("node"))],
  // The digest sums up every service of the node: its handler also needs read on every service.
  ["GET", "/v1/discovery/digest/{node}", need("node", "read", nodeParam("node"))],
  ["GET", "/v1/agent/members", need("node", "read", undefined, { filter: reads(["node"], arrayBy("node", "Name")) })],
  ["GET", "/v1/agent/services", need("service", "read", undefined, { filter: reads(["service"], mapValuesBy("service", "Service")) })],
  ["GET", "/v1/health/service/{service{.*}}", need("service", "read", param("service"))],
  ["GET", "/v1/health/checks/{service{.*}}", need("service", "read", param("service"))],
  ["GET", "/v1/health/node/{node{.*}}", need("node", "read", param("node"))],
  ["GET", "/v1/health/state/{state{.*}}", need("service", "read", undefined, { filter: reads(["service", "node"], checksArray) })],
  // invoke: a call needs service read on the destination (intentions then decide who may call whom);
  // the proxy's run-time overrides are per service.
  ["*", "/v1/invoke/{service}", need("service", "read", param("service"))],
  ["*", "/v1/invoke/{service}/{path{.*}}", need("service", "read", param("service"))],
  ["GET", "/v1/invoke-config", need("agent", "read", self)],
  ["GET", "/v1/invoke-config/{service}", need("service", "read", param("service"))],
  ["PUT,DELETE", "/v1/invoke-config/{service}", need("service", "write", param("service"))],
];

interface Routed {
  route: { method: string; path: string; hide?: boolean };
  permission?: RoutePermission;
}

function fromTable(method: string, path: string): RoutePermission | undefined {
  const m = method.toUpperCase();
  for (const [methods, p, perm] of ROUTE_PERMISSIONS) {
    if (methods !== "*" && !methods.split(",").includes(m)) continue;
    if (p.endsWith("/*") ? path.startsWith(p.slice(0, -1)) : p === path) return perm;
  }
  return undefined;
}

/**
 * The permission a route needs: its own declaration, else the table, else
 * (hidden 405 routes) the visible route's on the same path. undefined:
 * undeclared.
 */
export function permissionFor(entry: Routed, all: readonly Routed[]): RoutePermission | undefined {
  if (entry.permission) return entry.permission;
  const own = fromTable(entry.route.method, entry.route.path);
  if (own || !entry.route.hide) return own;
  const visible = all.find((e) => e !== entry && !e.route.hide && e.route.path === entry.route.path);
  const inherited = visible ? permissionFor(visible, all) : undefined;
  // A 405 answer has no list to filter: it needs the list's permission outright.
  if (inherited && typeof inherited === "object" && inherited.filter) return { ...inherited, filter: undefined, filterWhen: undefined };
  return inherited;
}

/** "key:read", "none", "peer", "authenticated"; undefined stays undefined. For listings and error messages. */
export function describePermission(p: RoutePermission | undefined): string | undefined {
  if (p === undefined || typeof p === "string") return p;
  return `${p.resource}:${p.access}${p.target ? " (or as the request names it)" : ""}${p.filter ? " (filtered list)" : ""}`;
}

/** Routes allowed to need nothing at all. */
export const OPEN_ROUTES = new Set([
  "GET /v1/healthz", "PUT /v1/acl/bootstrap",
  // The dashboard's page and assets hold no data (plugins/ui/routes.ts): it must load to ask for a token.
  "GET /", "GET /ui", "GET /ui/", "GET /ui/assets/{file}",
  // The mesh CA's root certificates are public material every mesh peer must read (Consul: no ACL; core/api/connect-ca.ts).
  "GET /v1/connect/ca/roots", "GET /v1/agent/connect/ca/roots",
]);

export type { SegmentHelpers };
