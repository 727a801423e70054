// This node's mesh listener on Bun's own TLS sockets (Bun.listen with
// `requestCert`): the handshake gives the peer's certificate and whether it
// verified, and the connection is then served by the sockets engine's HTTP
// code (mesh-conn.ts) — no node:tls, no node:http per request.
//
// TLS asks for a client certificate but does not end the handshake without
// one or with one that does not verify: a caller outside the mesh (none) is
// judged as "no service identity", and a bad certificate gets a clear 403
// (MESH_CERT_REJECTED) instead of a bare handshake failure.
//
// Bun cannot change a listener's certificate in place (reload() keeps the
// TLS context), so new roots or a renewed leaf start a second listener on
// the same port (SO_REUSEPORT; Linux lets only the same user share a port)
// and stop the first from accepting; its connections go on until they end.
import type { Logger } from "../../../core/sdk/index.ts";
import type { Invoker } from "../invoker.ts";
import type { HostRouter } from "../listener.ts";
import { peerService, type MeshServer, type MeshServerDeps } from "../mesh-server.ts";
import type { LeafPair, Trust } from "../mesh-identity.ts";
import type { TraceIds } from "../trace.ts";
import { MeshConn, type MeshDestination, type MeshPeer } from "./mesh-conn.ts";
import type { Engine, Sock } from "./server.ts";
import { UpstreamPool } from "./upstream.ts";
import { adoptMeshH2 } from "../h2/mesh-h2-conn.ts";

/** Seconds a source agent's connection may sit idle between requests (its pool closes idle ones sooner). */
const IDLE_SECONDS = 120;
const IDLE_SWEEP_MS = 10_000;
/** The protocols offered, in Bun's wire format (length-prefixed): h2 first when an h2 server is given (h2/mesh-server-h2.ts). */
const ALPN = Buffer.from("\x08http/1.1", "latin1");
const ALPN_H2 = Buffer.from("\x02h2\x08http/1.1", "latin1");

interface TlsSock extends Sock {
  authorized: boolean;
  alpnProtocol: string | false | null;
  getPeerCertificate(): Record<string, unknown> & { subjectaltname?: string } | undefined;
}

interface BunListener {
  port: number;
  stop(force?: boolean): void;
}

export interface FastMeshServerDeps extends Omit<MeshServerDeps, "localInstance"> {
  invoker: Invoker;
  trace: TraceIds;
  localInstance: MeshDestination["localInstance"];
}

/** Who is calling, from the handshake: the service the certificate names, none (outside the mesh), or a certificate refused. */
export function peerOf(cert: { subjectaltname?: string } | undefined, verifyError: { message?: string } | null | undefined, authorized: boolean, trustDomain: string): MeshPeer {
  if (!cert || Object.keys(cert).length === 0) return { kind: "plain" };
  if (verifyError || !authorized) return { kind: "rejected", why: String(verifyError?.message ?? "the certificate does not verify") };
  const service = peerService(cert.subjectaltname, trustDomain);
  return service
    ? { kind: "service", service, uri: `spiffe://${trustDomain}/ns/default/svc/${service}` }
    : { kind: "rejected", why: `the certificate names no service of trust domain ${trustDomain}` };
}

export async function startFastMeshServer(d: FastMeshServerDeps): Promise<MeshServer> {
  let trust: Trust = await d.identity.roots();
  let leaf: LeafPair = await d.serverLeaf();
  let sweeps = 0;
  /** Every connection of this listener and of those it replaced, for the idle sweep and close(). */
  const socks = new Set<TlsSock>();
  const pool = new UpstreamPool();
  // The engine's router is never asked (the destination is the mesh field): a stand-in.
  const engine: Engine = { sweeps: () => sweeps, invoker: d.invoker, router: undefined as unknown as HostRouter, pool, trace: d.trace, log: d.log };
  const dest: MeshDestination = { authorize: d.authorize, localInstance: d.localInstance, ...(d.onDenied ? { onDenied: d.onDenied } : {}), ...(d.spans ? { spans: d.spans } : {}) };
  const log: Logger = d.log;

  /** ALPN decides who serves the connection: HTTP/1.1 (or no ALPN) here; h2 beside it. */
  const serve = (s: TlsSock, peer: MeshPeer): MeshConn =>
    d.h2 && s.alpnProtocol === "h2" ? (adoptMeshH2(s, peer, d.h2) as unknown as MeshConn) : new MeshConn(s, engine, sweeps, peer, dest);

  const handlers = {
    open: (s: TlsSock) => {
      s.setNoDelay(true);
      s.data = null as unknown as MeshConn; // served once the handshake says who calls
      socks.add(s);
    },
    handshake: (s: TlsSock, ok: boolean, err: { message?: string } | null) => {
      if (!ok) {
        d.onHandshakeFailed?.();
        log.debug("invoke mesh: TLS handshake failed", { err });
        return s.terminate();
      }
      const peer = peerOf(s.getPeerCertificate(), err, s.authorized, trust.trustDomain);
      d.onHandshake?.(peer.kind);
      s.data = serve(s, peer);
    },
    data: (s: TlsSock, b: Buffer) => (s.data ? s.data.onData(b) : s.terminate()),
    drain: (s: TlsSock) => s.data?.out.drain(),
    close: (s: TlsSock) => {
      socks.delete(s);
      // Closed before any handshake: not TLS, or a client that gave up on it.
      if (!s.data) return void d.onHandshakeFailed?.();
      s.data.onClose();
    },
    error: (s: TlsSock, err: unknown) => {
      if ((err as { code?: string })?.code) log.debug("invoke mesh: connection error", { err });
      else log.warn("invoke mesh: connection failed", { err });
      socks.delete(s);
      s.terminate();
      s.data?.onClose();
    },
  };
  const Bun = (globalThis as { Bun: { listen(o: unknown): BunListener } }).Bun;
  const listen = (port: number): BunListener => Bun.listen({
    hostname: d.bind, port, reusePort: true,
    tls: { cert: leaf.cert, key: leaf.key, ca: trust.ca, requestCert: true, rejectUnauthorized: false, ALPNProtocols: d.h2 ? ALPN_H2 : ALPN },
    socket: handlers,
  });
  // SO_REUSEPORT would let a second corral on the same port share it: a port in use must fail as without it.
  if (d.port !== 0) Bun.listen({ hostname: d.bind, port: d.port, socket: { data() {} } }).stop(true);
  let server = listen(d.port);
  const port = server.port;
  const sweeper = setInterval(() => {
    sweeps++;
    const before = sweeps - Math.ceil((IDLE_SECONDS * 1000) / IDLE_SWEEP_MS);
    for (const s of socks) s.data?.closeIfIdle(before);
  }, IDLE_SWEEP_MS);
  return {
    address: d.bind,
    port,
    async refresh() {
      const t = await d.identity.roots();
      const l = await d.serverLeaf();
      if (t.version === trust.version && l === leaf) return;
      trust = t;
      leaf = l;
      const old = server;
      server = listen(port);
      old.stop(false);
    },
    async close() {
      clearInterval(sweeper);
      server.stop(true);
      for (const s of socks) s.terminate();
      pool.close();
    },
  };
}
