// The invoke plugin: call any service by name through this node — on the API
// port (/v1/invoke/{service}/{path}) or the proxy listener (Host routing).
// See docs/invoke.md.
//
// Wiring only: where instances come from (watch.ts: the local catalog on
// leader-role nodes, blocking queries to a leader on agents), the services
// table (services.ts), the call loop (invoker.ts), the listener and routes.
// Everything that holds a socket, a timer or a watch goes through ctx, so
// disable/reload frees the port and stops every watch.
import { bindError, hostPort, type PluginContext, type PluginHandle, type PluginModule } from "../../core/sdk/index.ts";
import { allowAll, authorizerFromState, type CallAuthorizer } from "./authorize.ts";
import { invokeConfigSchema, type InvokeConfig } from "./config.ts";
import { listenSockets } from "./fast/listen.ts";
import { UpstreamPool } from "./fast/upstream.ts";
import { fetchCaller, type CallHandler, type FetchFn } from "./fetch.ts";
import { Invoker } from "./invoker.ts";
import { HostRouter, startFetchListener, type Listener } from "./listener.ts";
import { InvokeMetrics } from "./metrics.ts";
import { invokeRoutes } from "./routes.ts";
import { ServiceRegistry } from "./services.ts";
import { TraceIds } from "./trace.ts";
import { startTracing } from "./tracing.ts";
import { localSource, remoteSource, type CatalogSource } from "./watch.ts";
import { startMesh } from "./mesh.ts";
import { H2Front } from "./h2/front.ts";
import { H2Relay } from "./h2/relay.ts";

export const INVOKE_VERSION = "0.1.0";

export interface InvokePluginDeps {
  /** Who may call whom (default: authz through ctx.state, allow-all while it is absent). */
  authorizer?: (ctx: PluginContext<InvokeConfig>) => CallAuthorizer;
  /** Instances (default: local catalog on leader-role nodes, ctx.forward on agents). */
  source?: (ctx: PluginContext<InvokeConfig>) => CatalogSource;
  rng?: () => number;
}

export interface InvokeHandle extends PluginHandle {
  address: string;
  port: number;
}

/** Upstream connections: a keep-alive pool of our own where Bun offers one, closed when the plugin stops. */
function upstreamFetch(ctx: PluginContext<InvokeConfig>): FetchFn {
  const Session = (globalThis as { Bun?: { FetchSession?: new (init?: object) => { fetch: FetchFn; close(): void } } }).Bun?.FetchSession;
  if (!Session) return fetch as unknown as FetchFn;
  const session = ctx.own(new Session({ keepAlive: { idleTimeout: 60 } }));
  return session.fetch;
}

function defaultSource(ctx: PluginContext<InvokeConfig>): CatalogSource {
  if (ctx.forward) return remoteSource(ctx.forward, ctx.config.watch_wait);
  return localSource(() => ctx.state.catalog, (opts, read) => ctx.state.blocking(opts, read), ctx.config.watch_wait);
}

export function createInvokePlugin(deps: InvokePluginDeps = {}): PluginModule<InvokeConfig> {
  return {
    name: "invoke",
    version: INVOKE_VERSION,
    description: "Service invocation: a proxy to any service by name, balanced over healthy instances, with timeouts, retries, a retry budget and circuit breaking",
    configSchema: invokeConfigSchema,
    listeners: (c) => [`invoke ${hostPort(c.bind, c.port)}`, ...(c.mesh ? [`invoke mesh ${hostPort(c.mesh_bind || "(advertised address)", c.mesh_port)} (mTLS)`] : [])],
    async setup(ctx: PluginContext<InvokeConfig>): Promise<InvokeHandle> {
      const cfg = ctx.config;
      const now = () => Date.now();
      const rng = deps.rng ?? Math.random;
      const registry = new ServiceRegistry(cfg, {
        source: (deps.source ?? defaultSource)(ctx), now, rng, log: ctx.log,
        onDropped: (svc) => ctx.log.debug("invoke: stopped watching an idle service", { service: svc.name }),
      });
      ctx.own({ close: () => registry.stop() });
      ctx.every(Math.min(30_000, Math.max(1000, cfg.watch_idle / 4)), () => registry.sweep());
      // Series exist for watched services and present instances only: churn does not grow /metrics.
      const metrics = new InvokeMetrics(ctx.metrics, () => registry.list());

      // Fail closed: a node asked for the mesh never sends calls in clear instead.
      if (cfg.mesh && !ctx.host.meshCa) throw new Error("[plugins.invoke] mesh = true, but this node has no access to the mesh CA");
      const meshOn = cfg.mesh;
      const trace = new TraceIds();
      // Spans for OTLP export, when otlp_endpoint is set (tracing.ts); off, the call path is unchanged.
      const tracing = startTracing(ctx, trace, INVOKE_VERSION);
      const invoker = new Invoker({
        cfg, registry, metrics, rng, now, log: ctx.log, spans: tracing?.calls,
        // With the mesh on, intentions are checked by the destination's agent, from the caller's certificate (mesh-server.ts).
        authorizer: meshOn ? allowAll : deps.authorizer ? deps.authorizer(ctx) : ctx.state ? authorizerFromState(ctx.state) : allowAll,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      });
      const viaFetch = fetchCaller(invoker, upstreamFetch(ctx), trace);
      // A call must never take the plugin down: an unexpected throw (a client
      // gone mid-body) is that call's 502, logged.
      const onError = (err: unknown): Response => {
        ctx.log.warn("invoke: call failed", { err });
        return Response.json({ error: `call failed: ${(err as Error)?.message ?? String(err)}`, code: "INVOKE_FAILED" }, { status: 502 });
      };
      const mesh = meshOn ? await startMesh(ctx, { invoker, registry, trace, spans: tracing?.sink }) : undefined;
      const front = mesh?.call ?? viaFetch;
      const call: CallHandler = (req, service, target, client) => front(req, service, target, client).catch(onError);

      let listener: Listener | undefined;
      invokeRoutes({ ctx, registry, call, listener: () => listener && { address: listener.address, port: listener.port, engine } });
      // With the mesh on, the sockets engine sends its attempts over the mesh's pool of mTLS connections (fast/mesh-upstream.ts).
      const sockets = cfg.engine === "sockets" && typeof (globalThis as { Bun?: { listen?: unknown } }).Bun?.listen === "function";
      const engine = sockets ? "sockets" : "fetch";
      try {
        listener = ctx.own(
          sockets
            ? listenSockets(
                { bind: cfg.bind, port: cfg.port },
                {
                  invoker, router: new HostRouter(cfg.domain, ctx.host.datacenter), trace, log: ctx.log,
                  ...(mesh ? { pool: mesh.pool, callerFor: mesh.callerFor } : { pool: new UpstreamPool() }),
                },
                // h2c (gRPC) on the same port: a connection opening with the h2 preface is relayed frame by frame
                // (h2/relay.ts); with the mesh on, h2/front.ts serves it and its attempts cross to the instance's
                // agent over mTLS (h2/mesh-sessions.ts), never in clear.
                mesh
                  ? new H2Front({ invoker, router: new HostRouter(cfg.domain, ctx.host.datacenter), sessions: mesh.h2, trace, log: ctx.log })
                  : new H2Relay({ invoker, router: new HostRouter(cfg.domain, ctx.host.datacenter), trace, log: ctx.log }),
              )
            : await startFetchListener({ bind: cfg.bind, port: cfg.port, domain: cfg.domain, datacenter: ctx.host.datacenter, maxRequestBytes: cfg.max_request_bytes }, call),
        );
      } catch (err) {
        // The runtime's own words do not name the port (Bun: "Failed to listen at 127.0.0.1").
        throw bindError(err, {
          listener: "invoke", address: cfg.bind, port: cfg.port,
          portHint: "set [plugins.invoke] port (or --invoke-port, CORRAL_PLUGINS_INVOKE_PORT) to a free port", bindHint: "check [plugins.invoke] bind",
        });
      }
      ctx.log.info("invoke proxy listening", { address: listener.address, port: listener.port, engine, domain: `${cfg.domain}.` });
      return { address: listener.address, port: listener.port, stop() {} };
    },
  };
}

export const invokePlugin: PluginModule<InvokeConfig> = createInvokePlugin();
export default invokePlugin;

export { invokeConfigSchema, type InvokeConfig } from "./config.ts";
export type { CallAuthorizer, CallDecision } from "./authorize.ts";
