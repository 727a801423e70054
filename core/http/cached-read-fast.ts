// A fast path for blocking reads answered from a shared cache (issue 18 point
// 3), declared on the route through the route table's one mechanism
// (core/http/fast-route.ts). At 10,000 watchers of one service, one change
// wakes them all: each gets the same cached bytes, and most of the leader's
// CPU per watcher went into the watcher's next query crossing hono's
// context, the middleware chain and the validators (docs/scale.md). This
// answers the plain blocking read before hono, exactly as the route does, and
// only while it can:
//   - which requests: GET (HEAD, or a GET with a body, goes to the route), a
//     trailing parameter the declaration accepts (`subject`: not empty, not
//     percent-encoded), and a query of only `index`, `wait`, `stale`,
//     `consistent`, `dc`, each at most once. Anything else (`token`,
//     `filter`, `tag`, `passing`, `near`, `node-meta`, `cached`, `pretty`,
//     a duplicate, an unknown parameter) goes to the route;
//   - ACLs, audit, rate limits: the route table takes an unsigned route's fast
//     path only while none is configured (Security.open), so no token can read
//     more here (and `hide_check_output` acts only with ACLs on): the route
//     answers every request while any is;
//   - a request another node signed (an agent's forward of its client's read):
//     its signature is checked by the route table as the node-signature
//     middleware checks it (`nodeSigned`); a failing one goes to the route,
//     which treats it as a client's. A signed request takes no held-request
//     slot, as in the held-limit middleware;
//   - the read gate: taken only on the Raft leader (or with `?stale`); a
//     follower forwards, the route's work. On the leader the same wait as the
//     gate (the lease, or a read-index round for `?consistent`);
//   - held-request limits: an unsigned blocking read takes the held-limit
//     middleware's slots (one budget), before the read gate as there;
//   - parameters: `assertDatacenter` and `blockingParamsOf`, the route's own
//     parsers, in the route's order;
//   - the answer: the declaration's (the route's own shared answer and index,
//     offering the same gzip: core/http/gzip-answer.ts);
//     the route's headers (X-Consul-*, X-Corral-Index of the state the request
//     arrived at; the dispatcher adds the inert-answer headers).
import { blockingReadHeaders, enterBlockingRead, plainQuery } from "./blocking-read-fast.ts";
import { fastRoute } from "./fast-route.ts";
import { offerGzip, type GzippableAnswer } from "./gzip-answer.ts";
import { pathOf } from "./path-of.ts";
import type { ReplicationStatus } from "../state/replicator.ts";

export interface CachedReadFastDeps<S> {
  /** This node's replication status; undefined (an agent) sends every request to the route. */
  status(): ReplicationStatus | undefined;
  /** The state's applied index (X-Corral-Index: the state the request arrived at). */
  appliedIndex(): number;
  datacenter: string;
  /**
   * What the route's trailing parameter names (undecoded; "" for an exact
   * path), or undefined to let the route answer (it says why).
   */
  subject(rest: string): S | undefined;
  /** The route's shared answer for `subject`, waiting as its blocking read does. */
  answer(subject: S, url: string, blocking: { minIndex: number; waitMs: number; signal: AbortSignal }): Promise<{ index: number; body: string; shared?: GzippableAnswer }>;
  /** Counts the reads this path answered (corral_http_requests_total counts them with the route's). */
  taken?: { inc(): void };
}

interface Taken<S> {
  subject: S;
  query: URLSearchParams;
  stale: boolean;
}

export function cachedReadFast<S>(d: CachedReadFastDeps<S>) {
  return fastRoute<Taken<S>>({
    metered: true,
    nodeSigned: true,
    takes: (req, rest) => {
      // Percent-encoded parameters go to the route: hono's decoding is the reference.
      if (rest.includes("%")) return undefined;
      const subject = d.subject(rest);
      if (subject === undefined) return undefined;
      const query = plainQuery(req.url);
      if (!query) return undefined;
      const stale = query.has("stale");
      // Not the leader: the route forwards (or answers a stale read through its own gate).
      const status = d.status();
      if (!status || (!stale && !status.isLeader)) return undefined;
      return { subject, query, stale };
    },
    answer: async ({ req, taken: { subject, query, stale }, env, held, leaderRead, signedBy }) => {
      const arrived = d.appliedIndex();
      const path = pathOf(req.url);
      // The route table's slot (a signed request takes none), read gate, ?dc and parameters.
      const { params, release } = await enterBlockingRead({ req, env, query, path, stale, datacenter: d.datacenter, held, leaderRead, holdsSlot: signedBy === undefined });
      try {
        const { index, body, shared } = await d.answer(subject, req.url, { minIndex: params.index, waitMs: params.waitMs, signal: req.signal });
        d.taken?.inc();
        const res = new Response(body, { status: 200, headers: { "content-type": "application/json", ...blockingReadHeaders(index, d.status(), params, arrived) } });
        // The shared answer's gzip, once per version, for a client that asks (as the route's cachedJsonRead).
        return shared ? offerGzip(res, shared) : res;
      } finally {
        release();
      }
    },
  });
}
