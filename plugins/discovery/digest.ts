// Digests of nodes' registrations as the catalog has them, cached until one
// of the catalog tables changes: anti-entropy asks for one every
// sync_interval per node, and hashing a node with 10,000 checks means
// reading and serializing 10,000 rows. An idle catalog answers from memory.
import { registrationDigest, type StateReader } from "../../core/sdk/index.ts";

const TABLES = ["services", "checks", "catalog_nodes"] as const;
/** Distinct nodes remembered; past it the cache starts over. */
const MAX_NODES = 4096;

export interface NodeDigest {
  digest: string;
  services: number;
  checks: number;
}

export class CatalogDigests {
  private cache = new Map<string, NodeDigest>();
  /** The catalog tables' indexes the cached digests were computed at. */
  private key = "";

  constructor(private state: StateReader) {}

  get(nodeId: string): NodeDigest {
    const key = TABLES.map((t) => this.state.tableIndex(t)).join(",");
    // One change to the catalog makes every cached digest stale: all go at
    // once. Kept per entry, a stale digest of a node that never asked again
    // (gone for good, as under node churn) stayed until MAX_NODES nodes had asked.
    if (key !== this.key) {
      this.cache.clear();
      this.key = key;
    }
    const hit = this.cache.get(nodeId);
    if (hit) return hit;
    const r = this.state.catalog.registrations(nodeId);
    const entry = { digest: registrationDigest(r.node, r.services, r.checks), services: r.services.length, checks: r.checks.length };
    if (this.cache.size >= MAX_NODES) this.cache.clear();
    this.cache.set(nodeId, entry);
    return entry;
  }

  /** Digests held (tests). */
  size(): number {
    return this.cache.size;
  }
}
