// The mesh listener's series on /metrics (docs/monitoring.md#mesh):
//
//   corral_invoke_mesh_handshakes_total{peer}            completed TLS handshakes by
//       who the caller turned out to be: "service" (a leaf of this trust domain),
//       "plain" (no certificate: outside the mesh), "rejected" (a certificate that
//       does not verify: another CA, expired, no service of this trust domain)
//   corral_invoke_mesh_handshake_failures_total{reason}  handshakes that did not give
//       a mesh caller: "tls" (the TLS handshake itself failed: not TLS, no common
//       version or cipher, the client refused this node's certificate) and
//       "certificate" (the "rejected" ones above)
//   corral_invoke_mesh_denials_total{source,destination} calls refused by intention
//
// Label cardinality. `peer` and `reason` are fixed sets. `source` is the
// service a certificate signed by the mesh CA names (or "(none)" for a plain
// caller): with ACLs on, a leaf for a name needs service:write on it, so
// sources are the services tokens were granted. `destination` is the
// service a caller names in a header: a valid service name, but any one, so
// a caller could otherwise mint a series per request. Both are therefore
// capped: the first MAX_DENIAL_PAIRS distinct (source, destination) pairs
// keep their names, later new pairs are counted under
// source="(other)",destination="(other)". In a working cluster the pairs
// denied are a handful (intentions name catalog services); the cap only
// bites under abuse, and the total stays exact.
import type { Counter } from "prom-client";
import type { MetricsRegistry } from "../../core/sdk/index.ts";

/** Distinct (source, destination) denial series at most (then "(other)"). */
export const MAX_DENIAL_PAIRS = 256;
export const OTHER = "(other)";

export type HandshakePeer = "service" | "plain" | "rejected";

/** The first `max` distinct pairs keep their names; later new ones fold into (OTHER, OTHER). Pure. */
export class PairLabels {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  label(a: string, b: string): [string, string] {
    const key = `${a}\u0000${b}`;
    if (this.seen.has(key)) return [a, b];
    if (this.seen.size >= this.max) return [OTHER, OTHER];
    this.seen.add(key);
    return [a, b];
  }
}

export class MeshMetrics {
  private readonly handshakes: Counter<"peer">;
  private readonly failures: Counter<"reason">;
  private readonly denials: Counter<"source" | "destination">;
  private readonly pairs = new PairLabels(MAX_DENIAL_PAIRS);

  constructor(m: MetricsRegistry) {
    this.handshakes = m.counter({ name: "corral_invoke_mesh_handshakes_total", help: "mTLS connections accepted by this node's mesh listener, by the caller's kind (service, plain, rejected)", labelNames: ["peer"] as const });
    this.failures = m.counter({
      name: "corral_invoke_mesh_handshake_failures_total", help: "Connections to this node's mesh listener that gave no mesh caller: tls (the handshake failed), certificate (a client certificate that does not verify)",
      labelNames: ["reason"] as const,
    });
    this.denials = m.counter({ name: "corral_invoke_mesh_denials_total", help: "Calls refused by this node's mesh listener by intention, by source and destination service (at most 256 pairs, then (other))", labelNames: ["source", "destination"] as const });
    // Present at 0 from the start: a rate() over a series that appears with its first failure misses it.
    for (const peer of ["service", "plain", "rejected"]) this.handshakes.inc({ peer }, 0);
    for (const reason of ["tls", "certificate"]) this.failures.inc({ reason }, 0);
  }

  handshake(peer: HandshakePeer): void {
    this.handshakes.inc({ peer });
    if (peer === "rejected") this.failures.inc({ reason: "certificate" });
  }

  handshakeFailed(): void {
    this.failures.inc({ reason: "tls" });
  }

  denied(source: string, destination: string): void {
    const [s, d] = this.pairs.label(source, destination);
    this.denials.inc({ source: s, destination: d });
  }
}
