// The source side of the mesh (docs/mesh.md). The calling task's token
// decides which service it is (its workload identity: the task's own
// service; or an ACL token's service identity) — nothing the caller writes in
// a header does. Each attempt then goes, instead of to the instance itself,
// to the agent of the instance's node over mutual TLS, presenting that
// service's leaf; the destination agent checks the intention and calls the
// instance. A caller with no service identity goes without a certificate
// and is judged there as a caller outside the mesh.
import { parseSpiffeServiceId, requestToken } from "../../core/sdk/index.ts";
import type { MeshAuthorizer } from "./authorize.ts";
import { fetchCaller, type CallHandler, type FetchFn } from "./fetch.ts";
import type { Invoker } from "./invoker.ts";
import type { MeshIdentity } from "./mesh-identity.ts";
import { MESH_INSTANCE_HEADER, MESH_SERVICE_HEADER, XFCC_HEADER } from "./mesh-server.ts";
import type { Endpoint } from "./pool.ts";
import type { TraceIds } from "./trace.ts";

export interface MeshClientDeps {
  invoker: Invoker;
  identity: MeshIdentity;
  authorizer: MeshAuthorizer;
  /** The mesh port of every node (this node's own when configured as 0: a single-node cluster). */
  meshPort: () => number;
  trace: TraceIds;
  fetch?: typeof fetch;
}

/** The destination agent's certificate must be a leaf of this trust domain (its chain is checked against the roots by TLS). */
export function checkPeer(trustDomain: string) {
  return (_host: string, cert: { subjectaltname?: string }): Error | undefined => {
    const ok = (cert.subjectaltname ?? "").split(/,\s*/).some((p) => p.startsWith("URI:") && parseSpiffeServiceId(p.slice(4))?.trustDomain === trustDomain);
    return ok ? undefined : new Error(`the mesh peer's certificate is not of trust domain ${trustDomain}`);
  };
}

/** A CallHandler (like fetchCaller's) whose attempts cross the mesh. */
export function meshCaller(d: MeshClientDeps): CallHandler {
  const send = d.fetch ?? fetch;
  return async (req, service, target, client) => {
    const token = requestToken(req.url, (n) => req.headers.get(n) ?? undefined) || undefined;
    // An unknown token is no identity either: the destination judges the call as from outside the mesh.
    const caller = (await d.authorizer.callerOf(token)) ?? "";
    const trust = await d.identity.roots();
    const leaf = caller ? await d.identity.leaf(caller) : undefined;
    const tlsOptions = { ca: trust.ca, ...(leaf ? { cert: leaf.cert, key: leaf.key } : {}), checkServerIdentity: checkPeer(trust.trustDomain) };
    const viaMesh: FetchFn = (url, init, ep?: Endpoint) => {
      if (!ep) return send(url, init);
      const headers = new Headers(init.headers);
      headers.set(MESH_SERVICE_HEADER, service.toLowerCase());
      headers.set(MESH_INSTANCE_HEADER, ep.spec.serviceId);
      headers.delete(XFCC_HEADER);
      const node = ep.spec.nodeAddress || ep.spec.address;
      const host = node.includes(":") ? `[${node}]` : node;
      return send(`https://${host}:${d.meshPort()}${url.slice(ep.base.length)}`, { ...init, headers, tls: tlsOptions } as RequestInit);
    };
    return fetchCaller(d.invoker, viaMesh, d.trace)(req, service, target, client);
  };
}
