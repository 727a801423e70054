// SPIFFE IDs of mesh services (docs/mesh.md): spiffe://<trust domain>/ns/<namespace>/svc/<service>,
// Consul Connect's shape. Pure.

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function spiffeServiceId(trustDomain: string, namespace: string, service: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/svc/${service.toLowerCase()}`;
}

export interface SpiffeService {
  trustDomain: string;
  namespace: string;
  service: string;
}

/** The service a SPIFFE ID names, or undefined for anything else (another shape, a bad name). */
export function parseSpiffeServiceId(uri: string): SpiffeService | undefined {
  const m = /^spiffe:\/\/([a-z0-9.-]{1,255})\/ns\/([A-Za-z0-9_-]{1,128})\/svc\/([^/]+)$/.exec(uri);
  if (!m || !SERVICE_NAME.test(m[3]!)) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, service: m[3]!.toLowerCase() };
}

/** A service name a leaf may be made for. */
export function validServiceName(name: string): boolean {
  return SERVICE_NAME.test(name);
}
