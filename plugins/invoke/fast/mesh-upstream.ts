// The source side of the mesh on the sockets engine (docs/mesh.md): instead
// of to the instance, an attempt goes to the mesh listener of the
// instance's node over mutual TLS, on a keep-alive pool of connections per
// (calling service, destination node). The connection presents the calling
// service's leaf, so identities never share one: the destination judges
// every request on a connection as the service its certificate names.
//
// The pool, the attempt and the answer are the sockets engine's own
// (upstream.ts, transport.ts, forward.ts); only where a connection goes,
// what it presents and checks, and the mesh's field lines differ.
//
// Bun's TLS client ignores `checkServerIdentity` and checks the host name
// itself, which a mesh leaf (a SPIFFE URI, no DNS name) can never pass. So
// the check is ours, at the handshake: the chain must verify against the
// trusted roots (Bun reports that error before the host name's), and the
// peer's certificate must name a service of this trust domain.
import { parseSpiffeServiceId } from "../../../core/sdk/index.ts";
import type { MeshIdentity } from "../mesh-identity.ts";
import type { Endpoint } from "../pool.ts";
import { UpstreamPool, type BunSocket, type Route, type SocketHandlers, type UpstreamConn } from "./upstream.ts";

/** The mesh's request fields, set by the source agent (the destination strips them before the instance). */
export const MESH_SERVICE_FIELD = "x-corral-mesh-service";
export const MESH_INSTANCE_FIELD = "x-corral-mesh-instance";
/** ALPN in wire format (Bun takes a buffer, not a list): one protocol, http/1.1. */
const ALPN_HTTP1 = Buffer.from("\x08http/1.1", "latin1");
/** A field value must not end the line it is on. */
const LINE_BREAK = /[\r\n]/;
/**
 * Seconds an idle mesh connection is kept: each new one costs an mTLS handshake (ECDSA signatures and a chain
 * verified on both nodes, ms of CPU that stall whatever waits behind them), and the destination's listener keeps
 * them 120 s (fast/mesh-listen.ts, mesh-server.ts), so ours are closed first and a reused one is rarely stale.
 * An instance's pool keeps its own 4 s (plain connects are cheap, and servers' keep-alive limits shorter).
 */
export const MESH_IDLE_SECONDS = 60;

/** Why the mesh peer's certificate is refused, or undefined when it is a leaf of `trustDomain` that verified. */
export function peerRefusal(handshakeError: { code?: string; message?: string } | null | undefined, subjectAltName: string | undefined, trustDomain: string): string | undefined {
  // The host name check (Bun's own, after the chain's) cannot pass for a SPIFFE-only leaf: every other error is the chain's.
  if (handshakeError && handshakeError.code !== "ERR_TLS_CERT_ALTNAME_INVALID") return `the mesh peer's certificate does not verify: ${handshakeError.message ?? handshakeError.code}`;
  const ok = (subjectAltName ?? "").split(/,\s*/).some((p) => p.startsWith("URI:") && parseSpiffeServiceId(p.slice(4))?.trustDomain === trustDomain);
  return ok ? undefined : `the mesh peer's certificate is not of trust domain ${trustDomain}`;
}

interface TlsSocket extends BunSocket {
  getPeerCertificate(): { subjectaltname?: string } | undefined;
}

export class MeshUpstreamPool extends UpstreamPool {
  constructor(
    private readonly identity: MeshIdentity,
    /** The mesh port of every node. */
    private readonly meshPort: () => number,
  ) {
    super(MESH_IDLE_SECONDS);
  }

  // An endpoint's lines and pool key are the same for every attempt of the same service and caller (an
  // Endpoint's spec never changes): made once per endpoint, not per attempt.
  private readonly lines = new WeakMap<Endpoint, { service: string; lines: Buffer }>();
  private readonly keys = new WeakMap<Endpoint, { caller: string; key: string }>();

  override hostLines(ep: Endpoint, route: Route): Buffer {
    const hit = this.lines.get(ep);
    if (hit && hit.service === route.service) return hit.lines;
    const id = ep.spec.serviceId;
    const lines = Buffer.from(`${MESH_SERVICE_FIELD}: ${route.service}\r\n${LINE_BREAK.test(id) ? "" : `${MESH_INSTANCE_FIELD}: ${id}\r\n`}host: ${ep.hostPort}\r\n`, "utf8");
    this.lines.set(ep, { service: route.service, lines });
    return lines;
  }

  protected override keyOf(ep: Endpoint, route: Route): string {
    const hit = this.keys.get(ep);
    if (hit && hit.caller === route.caller) return hit.key;
    const key = `${route.caller}\n${ep.spec.nodeAddress || ep.spec.address}`;
    this.keys.set(ep, { caller: route.caller, key });
    return key;
  }

  protected override async dial(ep: Endpoint, route: Route, conn: UpstreamConn, handlers: SocketHandlers): Promise<BunSocket> {
    const trust = await this.identity.roots();
    // No service identity: no certificate, and the destination judges the call as from outside the mesh.
    const leaf = route.caller ? await this.identity.leaf(route.caller) : undefined;
    conn.notAfter = leaf ? leaf.renewAt : 0;
    const Bun = (globalThis as { Bun: { connect(o: unknown): Promise<BunSocket> } }).Bun;
    return new Promise<BunSocket>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return false;
        settled = true;
        reject(err);
        return true;
      };
      Bun.connect({
        hostname: ep.spec.nodeAddress || ep.spec.address, port: this.meshPort(), data: conn,
        tls: { ca: trust.ca, ...(leaf ? { cert: leaf.cert, key: leaf.key } : {}), rejectUnauthorized: false, ALPNProtocols: ALPN_HTTP1 },
        socket: {
          ...handlers,
          handshake: (s: TlsSocket, _ok: boolean, err: { code?: string; message?: string } | null) => {
            const why = peerRefusal(err, s.getPeerCertificate()?.subjectaltname, trust.trustDomain);
            if (why) {
              fail(Object.assign(new Error(why), { code: "MESH_PEER_REFUSED" }));
              return s.terminate();
            }
            settled = true;
            resolve(s);
          },
          // Closed or failed before the handshake ended: the attempt's connect failed (nothing was sent).
          close: (s: BunSocket, err?: unknown) => {
            if (!fail(err ?? Object.assign(new Error("the mesh peer closed the connection during the TLS handshake"), { code: "ECONNRESET" }))) handlers.close(s, err);
          },
          error: (s: BunSocket, err: unknown) => {
            if (!fail(err)) handlers.error(s, err);
            else s.terminate();
          },
          connectError: (_s: BunSocket, err: unknown) => fail(err),
        },
      }).catch(fail);
    });
  }
}
