// The service mesh in the invoke plugin (docs/mesh.md), wired: identities
// (mesh-identity.ts), the mTLS listener every node runs for calls arriving
// (mesh-server.ts) and the front that sends calls leaving over it
// (mesh-client.ts). Timers and the listener go through ctx, so disable and
// reload release them.
import { BindError, bindError, type PluginContext } from "../../core/sdk/index.ts";
import { meshAuthorizerFromState, type CallerLookup } from "./authorize.ts";
import type { InvokeConfig } from "./config.ts";
import type { CallHandler } from "./fetch.ts";
import type { Invoker } from "./invoker.ts";
import type { Endpoint } from "./pool.ts";
import { meshCaller } from "./mesh-client.ts";
import { MeshUpstreamPool } from "./fast/mesh-upstream.ts";
import { MeshMetrics } from "./mesh-metrics.ts";
import { MeshIdentity } from "./mesh-identity.ts";
import { startMeshServer, type MeshServer } from "./mesh-server.ts";
import { startFastMeshServer } from "./fast/mesh-listen.ts";
import { MeshH2Server } from "./h2/mesh-server-h2.ts";
import { MeshH2Sessions } from "./h2/mesh-sessions.ts";
import type { ServiceRegistry } from "./services.ts";
import type { SpanSink } from "./spans.ts";
import type { TraceIds } from "./trace.ts";

/** How often the trusted roots are read again (a rotation adds one) and leaves checked for renewal. */
const REFRESH_MS = 5000;

/** The service name of the certificate this node presents as a mesh server (not a service anyone registers). */
export function agentServiceName(nodeName: string): string {
  return `corral-agent.${nodeName.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`.slice(0, 128);
}

export interface MeshFront {
  /** The fetch front's calls (the API route; the proxy listener where the sockets engine is not available). */
  call: CallHandler;
  /** The sockets engine's: a keep-alive pool of mTLS connections per (caller, node) and the caller of a token. */
  pool: MeshUpstreamPool;
  callerOf: (token: string | undefined) => Promise<string | undefined>;
  /** A callerOf per client connection of the proxy listener (it remembers the connection's last token while the ACLs say its answer holds). */
  callerFor: () => CallerLookup;
  /** The h2 front's (h2/front.ts): mTLS sessions (ALPN h2) per (caller, node), for h2c and gRPC callers. */
  h2: MeshH2Sessions;
}

export async function startMesh(ctx: PluginContext<InvokeConfig>, o: { invoker: Invoker; registry: ServiceRegistry; trace: TraceIds; spans?: SpanSink }): Promise<MeshFront> {
  const cfg = ctx.config;
  const identity = new MeshIdentity(ctx.host.meshCa!, cfg.mesh_leaf_ttl);
  const authorizer = meshAuthorizerFromState(ctx.state);
  const self = agentServiceName(ctx.host.nodeName);
  const bind = cfg.mesh_bind || ctx.host.advertise || cfg.bind;
  const meshMetrics = new MeshMetrics(ctx.metrics);

  // What the listener decides per call, for HTTP/1.1 (mesh-server.ts) and h2 streams (h2/mesh-server-h2.ts) alike.
  const spans = o.spans ? { spans: { trace: o.trace, sink: o.spans } } : {};
  const authorize = (source: string, destination: string) => authorizer.authorizeSource(source, destination);
  // At once (no promise) once the service's view is loaded: the destination asks for every request.
  const localInstance = (service: string, serviceId: string): Endpoint | undefined | Promise<Endpoint | undefined> => {
    const svc = o.registry.acquire(service);
    if (!svc.loaded) return svc.ready.then(() => localOf(svc.pool.endpoints, serviceId));
    return localOf(svc.pool.endpoints, serviceId);
  };
  /** The instance the source chose when it is one of this node's, else the first of this node's. */
  const localOf = (endpoints: readonly Endpoint[], serviceId: string): Endpoint | undefined => {
    let first: Endpoint | undefined;
    for (const e of endpoints) {
      if (e.spec.node !== ctx.host.nodeName) continue;
      if (e.spec.serviceId === serviceId) return e;
      first ??= e;
    }
    return first;
  };
  const onDenied = (source: string, destination: string) => meshMetrics.denied(source, destination);
  const h2Server = new MeshH2Server({ authorize, localInstance, onDenied, log: ctx.log, ...spans });
  ctx.own({ close: () => h2Server.close() });

  // The listener needs this node's certificate, so it starts once the CA answers (on a node that
  // starts before any leader is elected, a few refreshes later) and is retried until then.
  let server: MeshServer | undefined;
  const start = async () => {
    try {
      const fast = typeof (globalThis as { Bun?: { listen?: unknown } }).Bun?.listen === "function";
      server = ctx.own(await (fast ? startFastMeshServer : startMeshServer)({
        bind, port: cfg.mesh_port, identity, log: ctx.log, invoker: o.invoker, trace: o.trace, ...spans,
        serverLeaf: () => identity.leaf(self),
        authorize, localInstance, onDenied,
        onHandshake: (peer) => meshMetrics.handshake(peer),
        onHandshakeFailed: () => meshMetrics.handshakeFailed(),
        h2: (sock, peer) => h2Server.serve(sock, peer),
      }));
    } catch (err) {
      if ((err as { code?: string })?.code === "EADDRINUSE" || (err as { code?: string })?.code === "EADDRNOTAVAIL") {
        throw bindError(err, {
          listener: "invoke mesh", address: bind, port: cfg.mesh_port,
          portHint: "set [plugins.invoke] mesh_port to a free port (the same on every node)", bindHint: "check [plugins.invoke] mesh_bind",
        });
      }
      throw err;
    }
    ctx.log.info("invoke mesh listening (mTLS)", { address: server.address, port: server.port });
  };
  const tick = async () => {
    try {
      if (!server) return await start();
      await identity.refreshRoots();
      await server.refresh();
      identity.sweep();
    } catch (err) {
      // A port in use or an address not on this host will not get better: the plugin fails, naming it.
      if (err instanceof BindError) return ctx.fail(err);
      ctx.log.warn(server ? "invoke mesh: could not refresh the CA roots or this node's certificate; keeping the last ones" : "invoke mesh: not listening yet (the mesh CA is not reachable); retrying", { err });
    }
  };
  void tick();
  ctx.every(REFRESH_MS, tick);
  const meshPort = () => cfg.mesh_port || server?.port || 0;
  // Owned here as well as by the sockets listener: with engine = "fetch" no listener closes it, and its sweep timer must stop with the plugin.
  const pool = new MeshUpstreamPool(identity, meshPort);
  ctx.own({ close: () => pool.close() });
  const h2 = new MeshH2Sessions({ identity, authorizer, meshPort });
  ctx.own({ close: () => h2.close() });
  return {
    call: meshCaller({ invoker: o.invoker, identity, authorizer, meshPort, trace: o.trace }),
    pool,
    callerOf: (token) => authorizer.callerOf(token),
    callerFor: () => authorizer.callerMemo?.() ?? ((token) => authorizer.callerOf(token)),
    h2,
  };
}
