// The KV key read fast path, declared on the GET /v1/kv/<key> route
// (core/api/kv.ts) through the route table's one mechanism
// (core/http/fast-route.ts). Consul's lock recipe waits for a lock with
// blocking reads of the lock key (`GET /v1/kv/<lock>?index=N`): with 16
// contenders each hand-over answers ~28 of them, and hono's context and
// middleware chain were 11–12% of the leader's CPU, the read handler 7%
// (bench/locks.ts, docs/coordination.md). This answers the plain read of one
// key before hono, as the route does:
//   - which requests: GET (HEAD goes to the route, as does a GET with a body),
//     a key the route's own schema accepts, not percent-encoded, and a query
//     of only `index`, `wait`, `stale`, `consistent`, `dc`, each at most once.
//     Anything else (`token`, `recurse`, `keys`, `raw`, `separator`, a
//     duplicate key, an unknown parameter) goes to the route;
//   - ACLs, audit, rate limits: the route table takes a fast path only while
//     none is configured (Security.open); with ACLs on, every read goes
//     through the route's ACL middleware, so no token can read more here;
//   - requests another node signed or forwarded (an agent's or follower's
//     hop): the route, which authorizes the client's read again;
//   - the read gate: taken only on the Raft leader (or with `?stale`); a
//     follower forwards, the route's work. On the leader the same wait as
//     the gate (the lease, or a read-index round for `?consistent`), with
//     its refusals (core/http/read-gate.ts leaderReadBarrier);
//   - held-request limits: a blocking read takes the same slots as the
//     held-limit middleware (one budget), before the read gate as there;
//   - parameters: `blockingParamsOf` and `assertDatacenter`, the route's own
//     parsers, in the route's order; the same blocking query on the same
//     topic (kvTopic) and the same index rule (the key's ModifyIndex; for a
//     missing key the index under it as a prefix);
//   - the answer: the route's body and headers (X-Consul-*, X-Corral-Index
//     of the state the request arrived at; the dispatcher adds the
//     inert-answer headers to every fast path's answer).
// The 15 waiters a release wakes all answer the same entry at the same
// index: its JSON is built once per ModifyIndex and shared (a key's row
// changes only with its ModifyIndex: every write, lock write and session
// release sets it).
import type { ZodType } from "zod";
import { blockingReadHeaders, enterBlockingRead, plainQuery } from "../http/blocking-read-fast.ts";
import { fastRoute } from "../http/fast-route.ts";
import { SIGNATURE_HEADER } from "../http/rpc-signature.ts";
import { FORWARDED_HEADER } from "../http/proxy.ts";
import { CLIENT_READ_HEADER } from "../acl/read-scope.ts";
import { kvView } from "../state/domains/txn.ts";
import { kvKeyIndex, type KvEntry } from "../state/domains/kv.ts";
import type { StateReader } from "../state/reader.ts";
import type { ReplicationStatus } from "../state/replicator.ts";
import type { WatchTopic } from "../state/watch.ts";

export interface KvReadFastDeps {
  state: StateReader;
  status(): ReplicationStatus;
  datacenter: string;
  /** The route's path parameters schema ({ key }): a key it refuses goes to the route, which answers why. */
  params: ZodType;
  /** What the route's blocking read waits on (kv.ts kvTopic). */
  topic(key: string): WatchTopic;
}

/** Headers that mark another node's hop: the route decides those. */
const HOP_HEADERS = [SIGNATURE_HEADER, FORWARDED_HEADER, CLIENT_READ_HEADER];

/** Keys whose last answer is kept (the hot lock keys); the memory is dropped whole past this. */
const MAX_CACHED_KEYS = 1024;

interface KeyRead {
  key: string;
  query: URLSearchParams;
  stale: boolean;
}

/** The route's JSON for one entry, kept per key at its ModifyIndex. */
class EntryJson {
  private last = new Map<string, { modifyIndex: number; createIndex: number; json: string }>();

  of(e: KvEntry): string {
    const hit = this.last.get(e.key);
    if (hit && hit.modifyIndex === e.modifyIndex && hit.createIndex === e.createIndex) return hit.json;
    const json = JSON.stringify([kvView(e)]);
    if (this.last.size >= MAX_CACHED_KEYS) this.last.clear();
    this.last.set(e.key, { modifyIndex: e.modifyIndex, createIndex: e.createIndex, json });
    return json;
  }
}

export function kvReadFast(d: KvReadFastDeps) {
  const answers = new EntryJson();
  return fastRoute<KeyRead>({
    metered: true,
    takes: (req, key) => {
      for (const h of HOP_HEADERS) if (req.headers.has(h)) return undefined;
      // Percent-encoded keys go to the route: hono's decoding is the reference.
      if (key === "" || key.includes("%") || !d.params.safeParse({ key }).success) return undefined;
      const query = plainQuery(req.url);
      if (!query) return undefined;
      const stale = query.has("stale");
      // Not the leader: the route forwards (or answers a stale read through its own gate).
      if (!stale && !d.status().isLeader) return undefined;
      return { key, query, stale };
    },
    answer: async ({ req, taken: { key, query, stale }, env, held, leaderRead }) => {
      const arrived = d.state.appliedIndex();
      const path = `/v1/kv/${key}`;
      // The route table's slot, read gate, ?dc and parameters.
      const { params, release } = await enterBlockingRead({ req, env, query, path, stale, datacenter: d.datacenter, held, leaderRead });
      try {
        const state = d.state;
        const { index, value } = await state.blocking(
          { tables: [d.topic(key)], minIndex: params.index, waitMs: params.waitMs, signal: req.signal },
          () => {
            const e = state.kvGet(key);
            return { index: kvKeyIndex(state, key), value: e };
          },
        );
        const headers = blockingReadHeaders(index, d.status(), params, arrived);
        if (!value) return new Response(null, { status: 404, headers });
        headers["content-type"] = "application/json";
        return new Response(answers.of(value), { status: 200, headers });
      } finally {
        release();
      }
    },
  });
}
