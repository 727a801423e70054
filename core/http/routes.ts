// The route table. Core and plugins add routes here; the table builds a fresh
// OpenAPIHono app whenever it changes (a plugin enabled, disabled or
// reloaded). Requests in flight finish on the app they started on.
// Rebuilding is cheap (routes change rarely) and means a disabled plugin's
// routes are really gone: they 404, and they leave /v1/openapi.json.
import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { RoutePermission } from "../acl/types.ts";
import { jsonBodyGuard, takesRawBody } from "./json-body.ts";
import { routeToLeader, type LeaderRouting, type LeaderShape } from "./leader-routing.ts";
import type { FastRoute } from "./fast-route.ts";
import { checkFastEntry, fastDispatcher, type FastDispatch, type FastEntry, type FastShape } from "./fast-dispatch.ts";
import { headAnswers, keepHeadAnswer } from "./head-answer.ts";

export type Handler = (c: Context<any, any, any>) => Response | Promise<Response>;

export interface RouteEntry {
  /** "core" or a plugin name. */
  owner: string;
  route: RouteConfig;
  handler: Handler;
  /**
   * The route reads replicated state: on a follower it is answered by the
   * leader unless the client asks for ?stale, and ?consistent confirms
   * leadership first (AppShape.stateRead decides how).
   */
  stateRead?: boolean;
  /**
   * How the route reaches the leader (core/http/leader-routing.ts): "forward",
   * "read" (also the consistency gate), "local" or "leader". A route that writes state
   * must declare it (test/cluster/leader-routing.test.ts).
   */
  leader?: LeaderRouting;
  /**
   * Before an agent forwards: a check only it can make (a thrown ApiError, or
   * a Response to answer with), or the request to send instead (a default filled in).
   */
  beforeForward?: (c: Context<any, any, any>) => Promise<Request | Response | void> | Request | Response | void;
  /**
   * "forward" routes: the requests a leader-role follower must pass on to the
   * Raft leader itself, as "leader" routes do, rather than run here (a waiting
   * KV acquire waits in the leader's own queue, core/api/lock-waits.ts).
   */
  raftLeaderWhen?: (c: Context<any, any, any>) => boolean;
  /** Rewrites the answer on the node that received the request, forwarded by an agent or not. */
  answer?: (c: Context<any, any, any>, res: Response) => Response | Promise<Response>;
  /** What a caller needs when ACLs are on (core/acl/types.ts); else core/acl/route-permissions.ts decides. */
  permission?: RoutePermission;
  /**
   * A fast path for this route's hot requests, run before hono
   * (core/http/fast-route.ts): its match, body cap, signature check, JSON
   * schema and error answers are this route's, taken by the table.
   */
  fast?: FastRoute<any>;
}

export interface AppShape {
  /** Middlewares applied to every route, in order. */
  middlewares: MiddlewareHandler[];
  onError: (err: Error, c: Context) => Response | Promise<Response>;
  notFound: (c: Context) => Response | Promise<Response>;
  /** The answer to a request whose input fails a route's zod schema. */
  invalidInput: (message: string, c: Context) => Response;
  /** Wraps the handlers of stateRead routes (consistency modes); identity when absent. */
  stateRead?: (handler: Handler) => Handler;
  /** An agent's way to its leaders, for "forward" and "read" routes; absent on leader-role nodes. */
  forward?: LeaderShape["forward"];
  /** A leader-role node's hop to the Raft leader, for "leader" routes. */
  raftLeader?: LeaderShape["raftLeader"];
  /** A middleware run for one route before its input validation (ACL enforcement); none when absent. */
  routeMiddleware?: (entry: RouteEntry, all: readonly RouteEntry[]) => MiddlewareHandler | undefined;
  /** What the fast paths share (core/http/fast-dispatch.ts); without it routes' fast paths are not run. */
  fast?: FastShape;
  title: string;
  version: string;
}

export class RouteTable {
  private entries: RouteEntry[] = [];
  private app!: OpenAPIHono;
  /** The app's fetch, HEAD answered with its GET's own Response (core/http/head-answer.ts). */
  private appFetch!: (req: Request, env?: unknown) => Response | Promise<Response>;
  private fast: FastDispatch | undefined;
  private generation = 0;

  constructor(private shape: AppShape) {
    this.rebuild();
  }

  add(entry: RouteEntry): void {
    if (entry.fast) checkFastEntry(fastEntry(entry));
    this.entries.push(entry);
    this.rebuild();
  }

  /** Adds several routes with one rebuild (a plugin's setup). */
  addMany(entries: RouteEntry[]): void {
    if (entries.length === 0) return;
    for (const e of entries) if (e.fast) checkFastEntry(fastEntry(e));
    this.entries.push(...entries);
    this.rebuild();
  }

  removeOwner(owner: string): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.owner !== owner);
    const removed = before - this.entries.length;
    if (removed) this.rebuild();
    return removed;
  }

  list(): readonly RouteEntry[] {
    return this.entries;
  }

  /** Bumps whenever the routes change; tests use it to detect leaks. */
  version(): number {
    return this.generation;
  }

  /** Answers a request: a route's fast path when one takes it, else the route through hono. */
  fetch = (req: Request, env?: unknown): Response | Promise<Response> => this.fast?.(req, env) ?? this.appFetch(req, env);

  /** The routes through hono only, no fast path (what a fast path hands a request it refuses to). */
  fetchRoute = (req: Request, env?: unknown): Response | Promise<Response> => this.appFetch(req, env);

  openApiDocument(): unknown {
    const doc = this.app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: this.shape.title, version: this.shape.version },
    });
    // Wildcard params are written "{key{.*}}" for hono's router; OpenAPI wants "{key}".
    const paths: Record<string, unknown> = {};
    for (const [path, item] of Object.entries(doc.paths ?? {})) paths[path.replace(/\{(\w+)\{[^}]*\}\}/g, "{$1}")] = item;
    return { ...doc, paths };
  }

  private rebuild(): void {
    const shape = this.shape;
    const app = new OpenAPIHono({
      defaultHook: (result, c) => {
        if (!result.success) {
          const issue = result.error.issues[0];
          const where = issue?.path?.length ? `${issue.path.join(".")}: ` : "";
          return shape.invalidInput(`${where}${issue?.message ?? "invalid input"}`, c);
        }
      },
    });
    // First, so it sees the Response every other middleware and the error handler left.
    app.use("*", keepHeadAnswer);
    for (const mw of shape.middlewares) app.use("*", mw);
    for (const e of this.entries) {
      const handler = routeToLeader(e, { readGate: shape.stateRead, forward: shape.forward, raftLeader: shape.raftLeader });
      const mw = shape.routeMiddleware?.(e, this.entries);
      const own = e.route.middleware ? [e.route.middleware].flat() : [];
      // The body is parsed once, duplicate keys refused, before the ACL decision reads it (core/http/json-body.ts).
      const guard = e.route.hide || takesRawBody(e.route.path) ? [] : [jsonBodyGuard];
      const chain = [...guard, ...(mw ? [mw] : []), ...own];
      // "x-corral-fast-path" in the OpenAPI document says which routes have one (test/cluster/fast-path-corpus.test.ts reads it).
      const route = e.fast ? { ...e.route, "x-corral-fast-path": true } : e.route;
      app.openapi(chain.length ? { ...route, middleware: chain as never } : route, handler as never);
    }
    app.notFound(shape.notFound);
    app.onError(shape.onError);
    this.app = app;
    this.appFetch = headAnswers((req, env) => app.fetch(req, env as never));
    this.fast = shape.fast ? fastDispatcher(this.entries.filter((e) => e.fast).map(fastEntry), shape.fast, this.fetchRoute) : undefined;
    this.generation++;
  }
}

/** What the fast-path dispatcher needs of a route entry with a fast path: its method, path and JSON body schema. */
function fastEntry(e: RouteEntry): FastEntry {
  const content = e.route.request?.body?.content as Record<string, { schema?: unknown }> | undefined;
  return { method: e.route.method, path: e.route.path, fast: e.fast!, bodySchema: content?.["application/json"]?.schema as FastEntry["bodySchema"] };
}
