// Route plumbing shared by the discovery endpoints: lenient query schemas
// (every Consul parameter is optional and may repeat; we parse them
// ourselves so errors are Consul's text/plain 400s), blocking reads with the
// X-Consul-* headers, forwarding from agents, and 405 for wrong methods (G8).
import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  blockingParams, checkDatacenter, consulError, type Indexed, isConsulPath,
  type PluginContext, QueryCache, readScope, type ReadScope, requestBody, requestKey,
  type Resource, type RouteHandler, type RoutePermission, setConsulHeaders, type WatchTopic,
  type CachedAnswer, type FastRoute, offerGzip, openReadScope,
} from "../../core/sdk/index.ts";
import { FilterError, prepareFilter, type FieldType, type Filter } from "./filter.ts";

export { QueryCache };

const param = z.union([z.string(), z.array(z.string())]).optional();

/** A query schema naming Consul's parameters for the document, accepting anything. */
export function query(...names: string[]) {
  return z.object(Object.fromEntries(["dc", "token", ...names].map((n) => [n, param])));
}

export const BLOCKING = ["index", "wait", "stale", "consistent", "cached", "filter", "node-meta", "ns", "partition", "peer"];

export const emptyOk = { 200: { description: "Done (empty body)" } } as const;

export function jsonOk<T extends z.ZodType>(schema: T, description = "OK") {
  return { 200: { description, content: { "application/json": { schema } } } } as const;
}

export function searchParams(c: Context): URLSearchParams {
  return new URL(c.req.url).searchParams;
}

/** A path parameter, percent-decoded by the router (%2F, %3A: G5). */
export function pathParam(c: Context, name: string): string {
  return c.req.param(name) ?? "";
}

/**
 * `?filter=` (go-bexpr, filter.ts) checked against the endpoint's element
 * type: undefined when absent or empty (Consul's "no filter"), a 400 naming
 * the problem and its line:column when the expression is bad.
 */
export async function filterParam(c: Context, type: FieldType): Promise<RequestFilter | undefined> {
  const raw = searchParams(c).get("filter");
  if (raw === null || raw.trim() === "") return undefined;
  let f: Filter;
  try {
    f = await prepareFilter(raw, type);
  } catch (err) {
    throw asConsulError(err);
  }
  return {
    select(list) {
      try {
        return f.select(list);
      } catch (err) {
        throw asConsulError(err); // the regex time budget
      }
    },
  };
}

export interface RequestFilter {
  /** The elements that pass; a 400 if the filter turns out too expensive on them. */
  select<E>(list: readonly E[]): E[];
}

function asConsulError(err: unknown): unknown {
  if (!(err instanceof FilterError)) return err;
  return consulError(400, err.overBudget ? err.problem : `Invalid filter at ${err.line}:${err.column}: ${err.problem}`);
}

/** The elements of a list that pass `filter` (all of them without one). */
export function filtered<E>(list: E[], filter: RequestFilter | undefined): E[] {
  return filter ? filter.select(list) : list;
}

/** The entries of an id → element map that pass `filter` (all of them without one). */
export function filterValues<V>(map: Record<string, V>, filter: RequestFilter | undefined): Record<string, V> {
  if (!filter) return map;
  const keep = new Set(filter.select(Object.values(map)));
  return Object.fromEntries(Object.entries(map).filter(([, v]) => keep.has(v)));
}

/**
 * The checks of a health answer the token may read, each by its own rule
 * (Consul's filterHealthChecks): a service's check needs service read on
 * that service, a node's check node read on that node.
 */
export function readableChecks<C extends { serviceName: string; nodeName: string }>(scope: ReadScope, checks: readonly C[]): C[] {
  const service = scope.keep(checks.filter((ch) => ch.serviceName !== ""), "service", (ch) => ch.serviceName);
  const node = scope.keep(checks.filter((ch) => ch.serviceName === ""), "node", (ch) => ch.nodeName);
  const keep = new Set<C>([...service, ...node]);
  return checks.filter((ch) => keep.has(ch));
}

/**
 * The blocking index of an answer the token's rules may have cut: the highest
 * index among what it may see, so a change to something hidden neither moves
 * it nor wakes a blocking query. (The removal of a visible item that leaves
 * no attributable tombstone then does not move it either: such a query
 * returns at its wait time and the next read shows the removal.)
 */
export function visibleIndex(items: readonly { modifyIndex: number }[]): number {
  return items.reduce((m, i) => Math.max(m, i.modifyIndex), 1);
}

/**
 * Instances of a service the token may read: the route checked service read
 * on the name asked for; each instance also needs node read on its node and
 * service read on its own name (names match case-insensitively) — Consul's
 * filterServiceNodes / filterCheckServiceNodes.
 */
export function readableInstances<I extends { node: { name: string }; service: { name: string } }>(scope: ReadScope, list: readonly I[]): I[] {
  return scope.keep(scope.keep(list, "node", (i) => i.node.name), "service", (i) => i.service.name);
}

/** visibleIndex over instances: their service, node and check rows. */
export function instancesIndex(list: readonly { node: { modifyIndex: number }; service: { modifyIndex: number }; checks?: readonly { modifyIndex: number }[] }[]): number {
  return list.reduce((m, i) => Math.max(m, i.node.modifyIndex, i.service.modifyIndex, visibleIndex(i.checks ?? [])), 1);
}

/** `node-meta=k:v` (repeatable, all must match). */
export function nodeMetaFilter(c: Context): (meta: Record<string, string>) => boolean {
  const pairs = searchParams(c).getAll("node-meta").map((p) => {
    const at = p.indexOf(":");
    return at === -1 ? [p, ""] : [p.slice(0, at), p.slice(at + 1)];
  });
  return (meta) => pairs.every(([k, v]) => meta[k!] === v);
}

/**
 * Mounts a read of replicated state: forwarded to a leader on agents,
 * gated by the consistency modes (served by the Raft leader unless ?stale) elsewhere: leader: "read".
 */
export function readRoute(
  ctx: PluginContext<unknown>, def: RouteConfig, handler: RouteHandler, permission?: RoutePermission,
  /** Rewrites the answer on the node that received the request, forwarded or not (check-output.ts). */
  after?: (c: Context, res: Response) => Promise<Response>,
  /** A fast path for its plain blocking reads (read-fast.ts). */
  fast?: FastRoute<any>,
): void {
  ctx.route(def, handler, { leader: "read", permission, answer: after, fast });
  methodNotAllowed(ctx, def);
}

/** Mounts a route and, hidden from the document, 405 answers for the other methods on its path. */
/** `permission`: what a caller needs with ACLs on (else core/acl/route-permissions.ts decides; 405 siblings inherit it). */
export function localRoute(ctx: PluginContext<unknown>, def: RouteConfig, handler: RouteHandler, permission?: RoutePermission): void {
  ctx.route(def, handler, { permission, leader: "local" });
  methodNotAllowed(ctx, def);
}

function methodNotAllowed(ctx: PluginContext<unknown>, def: RouteConfig) {
  for (const method of ["get", "put", "post", "delete"] as const) {
    if (method === def.method) continue;
    ctx.route(
      createRoute({ method, path: def.path, hide: true, responses: { 405: { description: "Method not allowed" } } }),
      // Consul's routes answer text; corral's own (the digest) JSON { error, code } like every corral route.
      (c) => isConsulPath(def.path)
        ? c.text(`method ${c.req.method} not allowed`, 405, { Allow: def.method.toUpperCase() })
        : c.json({ error: `method ${c.req.method} not allowed`, code: "METHOD_NOT_ALLOWED" }, 405, { Allow: def.method.toUpperCase() }),
    );
  }
}

/**
 * A blocking read answered with JSON from a per-plugin cache: `read` returns
 * the final view (what is sent); while none of `tables` changed, every
 * request for the same query gets the same serialized bytes, so 10,000
 * watchers woken by one change cost one evaluation and one serialization.
 * `read` filters through the request's ACL read scope, so an answer that
 * scope may have cut (the token does not see every one of `resources`) is
 * shared only with requests whose tokens grant exactly the same
 * (Authorizer.key, core/acl/grant-key.ts); a scope without a key shares
 * nothing. Two tokens that see different things never share an answer.
 */
export async function cachedJsonRead(
  ctx: PluginContext<unknown>,
  cache: QueryCache,
  c: Context,
  /** What the blocking read waits on; the cache version is the indexes of their tables. */
  tables: readonly WatchTopic[],
  read: () => Indexed<unknown>,
  /** Every resource whose rules can cut the answer (required: a forgotten one would share a cut answer between tokens). */
  resources: readonly Resource[],
): Promise<Response> {
  const scope = readScope(c);
  const cut = !resources.every((r) => scope.seesAll(r));
  const grant = scope.authz.key;
  if (cut && grant === undefined) {
    const value = await blockingRead(ctx, c, tables, read);
    return c.json(value as never);
  }
  const key = cut ? `${requestKey(c.req.url)}#${grant}` : requestKey(c.req.url);
  const answer = await blockingRead(ctx, c, tables, () => {
    const a = cache.get(key, tablesVersion(ctx, tables), () => computeShared(read, scope));
    // Made for another request with the same grant: filtered at the source as this one's would be
    // (the ACL layer must not filter it again), its rules hid the same things (the header).
    if (a.filtered) scope.used = true;
    if (a.partial) scope.partial = true;
    return { index: a.index, value: a };
  });
  // Its gzip computed once per version for every client that asks (core/http/gzip-answer.ts; the fast path offers the same).
  return offerGzip(c.body(answer.body, 200, { "Content-Type": "application/json" }), answer);
}

/** The cache version of an answer read from `tables`: their indexes (a keyed topic counts its whole table). */
function tablesVersion(ctx: PluginContext<unknown>, tables: readonly WatchTopic[]): string {
  return tables.map((t) => ctx.state.tableIndex(typeof t === "string" ? t : t.table)).join(",");
}

/** A shared answer: the read's value serialized once, with what the scope marked while reading. */
function computeShared(read: () => Indexed<unknown>, scope: ReadScope): CachedAnswer {
  const r = read();
  return { index: r.index, body: JSON.stringify(r.value), partial: scope.partial, filtered: scope.used };
}

/**
 * What cachedJsonRead answers a request no ACL rule cuts (the same cache key,
 * version and bytes), without a hono context: for the fast path of the plain
 * blocking read (read-fast.ts; core/http/cached-read-fast.ts), which is taken
 * only while ACLs are off. `read` gets the scope it filters through (one that
 * sees everything), as the route's does.
 */
export function openSharedRead(
  ctx: PluginContext<unknown>,
  cache: QueryCache,
  url: string,
  tables: readonly WatchTopic[],
  read: (scope: ReadScope) => () => Indexed<unknown>,
  blocking: { minIndex: number; waitMs: number; signal: AbortSignal },
): Promise<{ index: number; body: string; shared: CachedAnswer }> {
  const key = requestKey(url);
  const scope = openReadScope();
  const evaluate = read(scope);
  return ctx.state.blocking({ tables, ...blocking }, () => {
    const a = cache.get(key, tablesVersion(ctx, tables), () => computeShared(evaluate, scope));
    return { index: a.index, value: a };
  }).then((r) => ({ index: r.index, body: r.value.body, shared: r.value }));
}

/** B1–B8: dc check, index/wait/consistency, the blocking wait, and the X-Consul-* headers. */
export async function blockingRead<T>(
  ctx: PluginContext<unknown>,
  c: Context,
  tables: readonly WatchTopic[],
  read: () => Indexed<T>,
): Promise<T> {
  checkDatacenter(c, ctx.host.datacenter);
  const p = blockingParams(c);
  const r = await ctx.state.blocking({ tables, minIndex: p.index, waitMs: p.waitMs, signal: c.req.raw.signal }, read);
  setConsulHeaders(c, r.index, ctx.replication?.(), p.consistency);
  return r.value;
}

/** G6: `passing` is presence-true when empty, else a Go bool; anything else is a 400. */
export function passingParam(c: Context): boolean {
  const v = searchParams(c).get("passing");
  if (v === null) return false;
  if (v === "") return true;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw consulError(400, "Invalid value for ?passing");
}

/** Tables whose changes can move a catalog or health result. */
export const CATALOG_TABLES = ["services", "catalog_nodes", "catalog_tombstones", "nodes"] as const;
export const HEALTH_TABLES = [...CATALOG_TABLES, "checks"] as const;

/**
 * The request's JSON body as the route table parsed it, once, before the ACL
 * decision (core/http/json-body.ts: duplicate keys already refused). The
 * permission and the handler read this same value. Consul's 400s otherwise.
 */
export async function jsonBody(c: Context): Promise<unknown> {
  const b = await requestBody(c);
  if (b.kind === "empty") throw consulError(400, "Request decode failed: EOF");
  if (b.kind === "invalid") throw consulError(400, `Request decode failed: ${b.message}`.slice(0, 200));
  return b.value;
}
