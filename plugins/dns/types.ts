// What the DNS responder needs from the service catalog, and how it is tuned.
// Kept free of corral internals so the responder can be tested (and reused)
// with nothing but a plain object.

export type DnsInstanceStatus = "passing" | "warning" | "critical";

/** One registered instance of a service, as DNS sees it. */
export interface DnsInstance {
  /** Name of the node the instance runs on. */
  node: string;
  /** The node's address (IP, or a host name). */
  nodeAddress: string;
  /** The instance's own address; "" means "use the node address". */
  serviceAddress: string;
  port: number;
  tags: string[];
  /** Aggregate health: the worst of the instance's checks and its node's checks. */
  status: DnsInstanceStatus;
  /** SRV weight for a passing / a warning instance (Consul's Weights); default 1 for both. */
  weights?: { passing: number; warning: number };
}

export interface DnsCatalog {
  /**
   * Instances of service `name` (optionally only those carrying `tag`) that are
   * passing or warning (DNS keeps warning ones, drops critical — Consul's
   * behaviour). The responder passes `name` and `tag` lowercased: DNS names are
   * case-insensitive, so the catalog must compare them case-insensitively.
   * The responder drops `critical` instances itself as well.
   */
  serviceInstances(name: string, tag?: string): DnsInstance[];
  /** A node's address by node name (`name` lowercased; compare case-insensitively). */
  node(name: string): { name: string; address: string } | undefined;
}

/** A catalog with nothing in it. */
export const emptyCatalog: DnsCatalog = {
  serviceInstances: () => [],
  node: () => undefined,
};

export type DnsTransport = "udp" | "tcp";

/** Static settings of the responder (from `[plugins.dns]` and the host). */
export interface ResponderConfig {
  /** Our domain, e.g. "corral." (trailing dot optional, any case). */
  domain: string;
  /** A second domain answered the same way, e.g. "consul.". */
  altDomain?: string;
  /** This node's datacenter: the `<dc>` label accepted in names and used in SRV targets. */
  datacenter: string;
  /** TTL (seconds) of service records (A/AAAA/CNAME/SRV and SRV additionals). */
  serviceTtl: number;
  /** TTL (seconds) of node and `.addr.` records. */
  nodeTtl: number;
  /** Most answer records in a UDP response; 0 = no limit other than the size. */
  udpAnswerLimit: number;
  /** This node's name: the target of the NS record at the zone apex (optional). */
  nodeName?: string;
  /** Random numbers in [0, 1) for shuffling (default Math.random). */
  random?: () => number;
  /** Milliseconds since the epoch, for the SOA serial (default Date.now). */
  now?: () => number;
}

export interface ResponderOptions extends ResponderConfig {
  /** "udp" applies udpAnswerLimit and the 512-byte / EDNS0 size limit; "tcp" (default) only the 65535-byte frame. */
  transport?: DnsTransport;
}
