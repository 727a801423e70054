// The mesh's source side for HTTP/2 (docs/mesh.md): an h2 call through the
// proxy listener crosses to the instance's agent as a stream of an mTLS
// session (ALPN h2) presenting the caller's leaf. The caller's identity comes
// from its token exactly as for HTTP/1.1 (mesh-client.ts: the authorizer's
// callerOf; none = no certificate, judged there as outside the mesh).
//
// Sessions are kept per (caller identity, its leaf, the trusted roots,
// destination node): identities never share a connection, and a renewed
// leaf or a rotation opens new sessions from then on (the old ones finish
// their streams and close when idle, sessions.ts). Each stream carries the
// service and the instance the source chose (the mesh headers); the caller's
// X-Forwarded-Client-Cert is never passed on.
import http2 from "node:http2";
import type { MeshAuthorizer } from "../authorize.ts";
import { checkPeer } from "../mesh-client.ts";
import type { LeafPair, MeshIdentity, Trust } from "../mesh-identity.ts";
import { MESH_INSTANCE_HEADER, MESH_SERVICE_HEADER, XFCC_HEADER } from "../mesh-server.ts";
import type { Endpoint } from "../pool.ts";
import type { FailureKind } from "../retry.ts";
import { MESH_FAILURE_HEADER } from "./mesh-server-h2.ts";
import { H2Sessions, type H2Route, type H2Upstream, type SessionResult } from "./sessions.ts";

export interface MeshH2Deps {
  identity: MeshIdentity;
  authorizer: MeshAuthorizer;
  /** The mesh port of every node (docs/mesh.md). */
  meshPort: () => number;
}

/** host:port of the agent of the node `ep` is registered on. */
export function meshAuthority(ep: Endpoint, port: number): string {
  const node = ep.spec.nodeAddress || ep.spec.address;
  return `${node.includes(":") ? `[${node}]` : node}:${port}`;
}

function failureOf(value: unknown): FailureKind | undefined {
  return value === "refused" || value === "protocol" ? value : undefined;
}

export class MeshH2Sessions implements H2Upstream {
  private readonly sessions = new H2Sessions();

  constructor(private readonly d: MeshH2Deps) {}

  async route(token: string | undefined, service: string): Promise<H2Route> {
    // An unknown token is no identity either: the destination judges the call as from outside the mesh.
    const caller = (await this.d.authorizer.callerOf(token)) ?? "";
    const trust = await this.d.identity.roots();
    const leaf = caller ? await this.d.identity.leaf(caller) : undefined;
    const sessions = this.sessions;
    const port = this.d.meshPort();
    const name = service.toLowerCase();
    return {
      session: (ep, ready) => this.session(caller, leaf, trust, meshAuthority(ep, port), ready),
      head(ep, headers) {
        const out: http2.OutgoingHttpHeaders = { ...headers, ":authority": meshAuthority(ep, port), [MESH_SERVICE_HEADER]: name, [MESH_INSTANCE_HEADER]: ep.spec.serviceId };
        delete out[XFCC_HEADER];
        return out;
      },
      track: (s, stream) => sessions.track(s, stream),
      // The destination agent could not reach the instance: judged here as a direct attempt would be (breaker, next instance).
      failure: (h) => failureOf(h[MESH_FAILURE_HEADER]),
    };
  }

  private session(caller: string, leaf: LeafPair | undefined, trust: Trust, authority: string, ready: (r: SessionResult) => void): void {
    // The leaf's expiry tells one leaf of a service from its renewal; the roots' version, one set of roots from the next.
    const key = `${caller}\n${leaf?.notAfter ?? 0}\n${trust.version}\n${authority}`;
    this.sessions.getKeyed(key, () => http2.connect(`https://${authority}`, {
      ca: trust.ca, ...(leaf ? { cert: leaf.cert, key: leaf.key } : {}),
      ALPNProtocols: ["h2"], checkServerIdentity: checkPeer(trust.trustDomain),
    } as http2.SecureClientSessionOptions), ready);
  }

  close(): void {
    this.sessions.close();
  }
}
