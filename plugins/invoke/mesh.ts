// The service mesh in the invoke plugin (docs/mesh.md), wired: identities
// (mesh-identity.ts), the mTLS listener every node runs for calls arriving
// (mesh-server.ts) and the front that sends calls leaving over it
// (mesh-client.ts). Timers and the listener go through ctx, so disable and
// reload release them.
import { BindError, bindError, type PluginContext } from "../../core/sdk/index.ts";
import { meshAuthorizerFromState } from "./authorize.ts";
import type { InvokeConfig } from "./config.ts";
import type { CallHandler } from "./fetch.ts";
import type { Invoker } from "./invoker.ts";
import { meshCaller } from "./mesh-client.ts";
import { MeshUpstreamPool } from "./fast/mesh-upstream.ts";
import { MeshMetrics } from "./mesh-metrics.ts";
import { MeshIdentity } from "./mesh-identity.ts";
import { startMeshServer, type MeshServer } from "./mesh-server.ts";
import { startFastMeshServer } from "./fast/mesh-listen.ts";
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
}

export async function startMesh(ctx: PluginContext<InvokeConfig>, o: { invoker: Invoker; registry: ServiceRegistry; trace: TraceIds; spans?: SpanSink }): Promise<MeshFront> {
  const cfg = ctx.config;
  const identity = new MeshIdentity(ctx.host.meshCa!, cfg.mesh_leaf_ttl);
  const authorizer = meshAuthorizerFromState(ctx.state);
  const self = agentServiceName(ctx.host.nodeName);
  const bind = cfg.mesh_bind || ctx.host.advertise || cfg.bind;
  const meshMetrics = new MeshMetrics(ctx.metrics);

  // The listener needs this node's certificate, so it starts once the CA answers (on a node that
  // starts before any leader is elected, a few refreshes later) and is retried until then.
  let server: MeshServer | undefined;
  const start = async () => {
    try {
      const fast = typeof (globalThis as { Bun?: { listen?: unknown } }).Bun?.listen === "function";
      server = ctx.own(await (fast ? startFastMeshServer : startMeshServer)({
        bind, port: cfg.mesh_port, identity, log: ctx.log, invoker: o.invoker, trace: o.trace,
        ...(o.spans ? { spans: { trace: o.trace, sink: o.spans } } : {}),
        serverLeaf: () => identity.leaf(self),
        authorize: (source, destination) => authorizer.authorizeSource(source, destination),
        async localInstance(service, serviceId) {
          const svc = o.registry.acquire(service);
          if (!svc.loaded) await svc.ready;
          const mine = svc.pool.endpoints.filter((e) => e.spec.node === ctx.host.nodeName);
          return mine.find((e) => e.spec.serviceId === serviceId) ?? mine[0];
        },
        onHandshake: (peer) => meshMetrics.handshake(peer),
        onHandshakeFailed: () => meshMetrics.handshakeFailed(),
        onDenied: (source, destination) => meshMetrics.denied(source, destination),
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
  return {
    call: meshCaller({ invoker: o.invoker, identity, authorizer, meshPort, trace: o.trace }),
    pool,
    callerOf: (token) => authorizer.callerOf(token),
  };
}
