// The fast path of the discovery plugin's plain blocking reads (issue 18
// point 3): `/v1/health/service/<name>` and `/v1/catalog/services` with
// nothing but index, wait, stale, consistent and dc. Declared on each route
// (readRoute's `fast`); the core's cachedReadFast (core/http/cached-read-fast.ts)
// decides which requests it may take and answers with the route's headers,
// read gate and held-request slots. What it answers is the route's own shared
// answer (http.ts openSharedRead: the same cache key, version, read and bytes
// as cachedJsonRead for a request no ACL rule cuts), so a watcher woken by a
// change costs a cache hit and a Response, not a trip through hono.
import { cachedReadFast, type Indexed, type PluginContext, type ReadScope, type WatchTopic } from "../../core/sdk/index.ts";
import { openSharedRead, type QueryCache } from "./http.ts";

export interface SharedReadFast<S> {
  /** What the route's trailing parameter names ("" for an exact path), or undefined: the route answers. */
  subject(rest: string): S | undefined;
  /** What the route's blocking read waits on for `subject`. */
  tables(subject: S): readonly WatchTopic[];
  /** The route's read for `subject` with the plain query, filtering through `scope`. */
  read(subject: S, scope: ReadScope): () => Indexed<unknown>;
}

/** Reads answered on the fast path since the plugin started (corral_discovery_fast_reads). */
export class FastReads {
  count = 0;
  inc(): void {
    this.count++;
  }
}

export function sharedReadFast<S>(ctx: PluginContext<unknown>, cache: QueryCache, counter: FastReads, d: SharedReadFast<S>) {
  return cachedReadFast<S>({
    status: () => ctx.replication?.(),
    appliedIndex: () => ctx.state.appliedIndex(),
    datacenter: ctx.host.datacenter,
    subject: d.subject,
    answer: (s, url, blocking) => openSharedRead(ctx, cache, url, d.tables(s), (scope) => d.read(s, scope), blocking),
    taken: counter,
  });
}
