// Serialized answers of replicated-state reads, reused while the tables they
// come from have not changed. A thousand clients blocked on the same query
// all wake on one change: the first recomputes and serializes, the rest send
// the same bytes. Bounded (least recently used out).
export interface CachedAnswer {
  /** The query's own index (X-Consul-Index). */
  index: number;
  body: string;
  /** The token's rules could hide part of it (X-Consul-Results-Filtered-By-ACLs), replayed on every hit. */
  partial?: boolean;
  /** It was filtered through the request's ACL read scope at the source (core/acl/read-scope.ts `used`). */
  filtered?: boolean;
  /** `body` gzipped, computed once on the first request that accepts it (core/http/gzip-answer.ts). */
  gzipped?: Uint8Array;
}

export class QueryCache {
  private entries = new Map<string, { version: string; answer: CachedAnswer }>();
  /** Answers computed (evaluated and serialized) and answers served from the cache, since start (metrics, tests). */
  readonly stats = { computed: 0, served: 0 };

  constructor(private maxEntries = 512) {}

  /**
   * The answer for `key` at table `version`, computing it at most once per
   * version. `version` must change whenever any table the query reads changes.
   */
  get(key: string, version: string, compute: () => CachedAnswer): CachedAnswer {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) {
      // Re-insert: Map iteration order is the LRU order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.stats.served++;
      return hit.answer;
    }
    const answer = compute();
    this.stats.computed++;
    this.entries.delete(key);
    this.entries.set(key, { version, answer });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return answer;
  }

  clear(): void {
    this.entries.clear();
  }

  size(): number {
    return this.entries.size;
  }
}

/**
 * A cache key for a request: path plus the query without the parameters that
 * don't change the answer, each name and value kept apart (JSON). Joined as
 * `k=v&...` from decoded values, `?passing%3D%26tag=x` (one unknown
 * parameter: every instance) and `?passing&tag=x` (passing ones tagged x)
 * had the same key, so any client could plant its answer for everyone
 * else's query until the tables changed.
 */
export function requestKey(url: string, ignore: readonly string[] = ["index", "wait", "token", "stale", "consistent", "cached", "pretty"]): string {
  const u = new URL(url);
  const params = [...u.searchParams.entries()].filter(([k]) => !ignore.includes(k)).sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1));
  return JSON.stringify([u.pathname, params]);
}
