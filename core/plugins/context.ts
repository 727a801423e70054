// Builds the capability object a plugin's setup receives, and tracks every
// resource registered through it so release() can free all of it.
import type { RouteConfig } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { Registry } from "prom-client";
import type { EventBus } from "../events.ts";
import type { Logger } from "../log.ts";
import type { RouteTable, RouteEntry } from "../http/routes.ts";
import { ApiError } from "../http/errors.ts";
import type { StateReader } from "../state/reader.ts";
import type { Command } from "../state/commands.ts";
import type { ReplicationStatus } from "../state/replicator.ts";
import { ScopedMetrics } from "./metrics.ts";
import { FailureRate } from "./failure-rate.ts";
import type { Closeable, HostInfo, PluginContext, AppliedProposal, RouteHandler, RouteOptions, TimerHandle } from "./types.ts";

export interface ContextDeps {
  log: Logger;
  routes: RouteTable;
  bus: EventBus;
  state: StateReader;
  propose: (cmd: Command) => Promise<AppliedProposal>;
  host: HostInfo;
  metrics: Registry;
  /** Agents: pass a client request on to a leader. */
  forward?: (req: Request) => Promise<Response>;
  /** Another node's API with this node's scheme and TLS trust. */
  forwardTo?: (address: string, req: Request) => Promise<Response>;
  peerWebSocket?: (address: string, pathAndQuery: string, headers?: Record<string, string>) => WebSocket;
  replication?: () => ReplicationStatus | undefined;
}

/** Everything one enabled instance of a plugin holds. */
export class PluginResources {
  readonly timers = new Set<ReturnType<typeof setTimeout>>();
  readonly closeables = new Set<Closeable>();
  readonly unsubscribes = new Set<() => void>();
  readonly metrics: ScopedMetrics;
  /** Routes declared during setup, mounted in one rebuild once setup succeeds. */
  pendingRoutes: RouteEntry[] | null = [];
  released = false;

  constructor(
    readonly owner: string,
    private deps: ContextDeps,
  ) {
    this.metrics = new ScopedMetrics(deps.metrics);
  }

  mountPending(): void {
    if (this.pendingRoutes) this.deps.routes.addMany(this.pendingRoutes);
    this.pendingRoutes = null;
  }

  async release(log: Logger): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.pendingRoutes = null;
    this.deps.routes.removeOwner(this.owner);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const u of this.unsubscribes) u();
    this.unsubscribes.clear();
    for (const c of this.closeables) {
      try {
        await c.close();
      } catch (err) {
        log.warn("closing a plugin resource failed", { plugin: this.owner, err });
      }
    }
    this.closeables.clear();
    this.metrics.release();
  }

  counts() {
    return {
      timers: this.timers.size,
      closeables: this.closeables.size,
      subscriptions: this.unsubscribes.size,
      metrics: this.metrics.count(),
    };
  }
}

/**
 * `fail` is called when something the plugin registered throws outside a
 * request (a timer, a subscription), or when its handlers throw unexpected
 * errors at a rate that says the plugin is broken (core/plugins/failure-rate.ts):
 * one throwing request only gets its 500.
 */
export function buildContext<C>(
  name: string,
  config: C,
  res: PluginResources,
  deps: ContextDeps,
  fail: (err: unknown) => void,
): PluginContext<C> {
  const log = deps.log.child({ plugin: name });
  const guard = (fn: () => void | Promise<void>) => () => {
    if (res.released) return;
    try {
      const r = fn();
      if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  };

  // One per enabled instance: a reload starts the count afresh.
  const requestFailures = new FailureRate();
  const wrapHandler = (handler: RouteHandler): RouteHandler => async (c) => {
    try {
      return await handler(c);
    } catch (err) {
      if (err instanceof ApiError || err instanceof HTTPException) throw err;
      // The client hung up (a watch ended, a forwarded blocking query was
      // cancelled): nothing is wrong with the plugin.
      if (c.req.raw.signal?.aborted) throw new ApiError(400, "CLIENT_CLOSED", "the client closed the request");
      const message = (err as Error)?.message ?? String(err);
      log.error("plugin request failed", { method: c.req.method, path: c.req.path, err });
      if (requestFailures.record(Date.now())) {
        const { limit, windowMs } = requestFailures;
        fail(new Error(`${limit} requests failed within ${windowMs / 1000}s; the last: ${message}`));
      }
      throw new ApiError(500, "PLUGIN_FAILED", `plugin ${name} failed: ${message}`);
    }
  };

  return {
    name,
    config,
    log,
    host: deps.host,
    state: deps.state,
    metrics: res.metrics,
    route(route: RouteConfig, handler: RouteHandler, opts?: RouteOptions) {
      if (res.released) return;
      const entry: RouteEntry = { owner: name, route, handler: wrapHandler(handler), stateRead: opts?.stateRead, permission: opts?.permission,
        leader: opts?.leader, fast: opts?.fast, answer: opts?.answer && ((c, res) => wrapHandler((cc) => opts.answer!(cc, res))(c)) };
      if (res.pendingRoutes) res.pendingRoutes.push(entry);
      else deps.routes.add(entry);
    },
    every(intervalMs, fn) {
      const t = setInterval(guard(fn), Math.max(1, intervalMs));
      res.timers.add(t);
      return timerHandle(res, t, clearInterval);
    },
    after(delayMs, fn) {
      const t: ReturnType<typeof setTimeout> = setTimeout(() => {
        res.timers.delete(t);
        guard(fn)();
      }, Math.max(0, delayMs));
      res.timers.add(t);
      return timerHandle(res, t, clearTimeout);
    },
    own(resource) {
      res.closeables.add(resource);
      return resource;
    },
    propose: (cmd) => deps.propose(cmd),
    subscribe(topic, fn) {
      const off = deps.bus.subscribe(topic, (payload) => guard(() => fn(payload))());
      res.unsubscribes.add(off);
      return {
        unsubscribe() {
          off();
          res.unsubscribes.delete(off);
        },
      };
    },
    publish: (topic, payload) => deps.bus.publish(topic, payload),
    fail,
    forward: deps.forward,
    forwardTo: deps.forwardTo,
    peerWebSocket: deps.peerWebSocket,
    replication: deps.replication,
  };
}

function timerHandle(
  res: PluginResources,
  t: ReturnType<typeof setTimeout>,
  clear: (t: ReturnType<typeof setTimeout>) => void,
): TimerHandle {
  return {
    cancel() {
      clear(t);
      res.timers.delete(t);
    },
  };
}
