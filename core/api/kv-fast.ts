// The KV write fast path, declared on the PUT /v1/kv/<key> route (core/api/kv.ts)
// through the route table's one mechanism (core/http/fast-route.ts). A plain
// `PUT /v1/kv/<key>` (no query, a body of known length) is the hot client
// write: bench/raft.ts measured ~50 µs of leader CPU per write in hono's
// context, middleware chain and validators, a third of the leader's whole
// share of a replicated write. This answers it before hono, the same way:
// the route's key schema, the same KVSet command through the same propose,
// the same `true`. The route table adds the rest from the route: its body cap,
// its error answers, its request metrics, and taking it only while no ACL,
// audit or rate limit is configured. Anything else (a query: cas, flags, dc,
// token...; an encoded key; a key the route's schema refuses) goes to the
// route, which stays the reference and the OpenAPI entry.
//
// The lock writes of Consul's lock recipe take the same path: a query of
// exactly one `acquire=<session>` or `release=<session>` (a session id's
// characters only) is written by the node's one LockWriter
// (core/api/kv-lock-write.ts), the very function the route calls. With 16
// contenders on a lock each hand-over brings 15 acquires that are refused
// (bench/locks.ts), and hono's chain was most of their cost.
import type { ZodType } from "zod";
import type { Command } from "../state/commands.ts";
import { MAX_KV_VALUE_BYTES } from "../state/domains/kv.ts";
import { fastJson } from "../http/fast-reply.ts";
import { fastRoute } from "../http/fast-route.ts";
import { lockWaitMs, type LockWriter } from "./kv-lock-write.ts";
import { remoteOf } from "../http/remote-addr.ts";
import { SIGNATURE_HEADER } from "../http/rpc-signature.ts";
import { FORWARDED_HEADER } from "../http/proxy.ts";
import { requestToken } from "../acl/secret.ts";
import { commitTrace } from "../cluster/raft/commit-trace.ts";

export interface KvWriteFastDeps {
  propose(cmd: Command): Promise<{ index?: number; result: { ok: boolean; value?: unknown } }>;
  /** The node's lock writer (the route's): `?acquire=`/`?release=` writes are answered here too. */
  locks: LockWriter;
  /** Whether this node is the active leader: a waiting acquire waits there, so elsewhere the route forwards it. */
  isLeader(): boolean;
  /** The route's path parameters schema ({ key }): a key it refuses goes to the route, which answers why. */
  params: ZodType;
}

/**
 * The one query a lock write may carry here: acquire or release, a session
 * id's characters, and for an acquire a `wait` after it (a waiting acquire,
 * core/api/lock-waits.ts). Anything else goes to the route.
 */
const LOCK_QUERY = /^(?:(release)=([A-Za-z0-9-]{1,64})|(acquire)=([A-Za-z0-9-]{1,64})(?:&wait=([0-9a-zµ.]{1,24}))?)$/;

/** Headers that mark another node's hop (as kv-read-fast.ts). */
const HOP_HEADERS = [SIGNATURE_HEADER, FORWARDED_HEADER];

interface KvWrite {
  key: string;
  lock?: { op: "acquire" | "release"; session: string; waitMs?: number };
}

export function kvWriteFast(d: KvWriteFastDeps) {
  return fastRoute<KvWrite>({
    metered: true,
    takes: (req, key, length) => {
      commitTrace?.httpReceived();
      // The route answers an oversized value (Consul's 413 text).
      if (length > MAX_KV_VALUE_BYTES) return undefined;
      const url = req.url;
      const q = url.indexOf("?");
      let lock: KvWrite["lock"];
      if (q !== -1) {
        const query = url.slice(q + 1);
        const m = LOCK_QUERY.exec(query);
        if (!m) return undefined;
        if (m[1]) lock = { op: "release", session: m[2]! };
        else {
          // A waiting acquire: another node's hop holds no slot of this node's clients (the route tells a real one,
          // signed, from a claimed one), and one that reaches a follower is forwarded by the route to the leader.
          if (m[5] !== undefined && (HOP_HEADERS.some((h) => req.headers.has(h)) || !d.isLeader())) return undefined;
          // The route's own parser: a duration it refuses goes to the route, which answers why.
          let waitMs: number | undefined;
          try {
            waitMs = lockWaitMs(new URLSearchParams(query));
          } catch {
            return undefined;
          }
          lock = { op: "acquire", session: m[4]!, waitMs };
        }
      }
      // Percent-encoded keys go to the route: hono's decoding is the reference.
      if (key === "" || key.includes("%") || !d.params.safeParse({ key }).success) return undefined;
      return { key, lock };
    },
    answer: async ({ body, taken: { key, lock }, req, env, held }) => {
      const value = Buffer.from(body).toString("base64");
      if (lock?.waitMs !== undefined) {
        // A waiting acquire takes a blocking-read slot, as the held-limit middleware gives it on the route.
        const path = `/v1/kv/${key}`;
        const release = held?.hold("blocking", requestToken(req.url, (n) => req.headers.get(n) ?? undefined), remoteOf(req, env), path);
        try {
          return fastJson(200, await d.locks({ key, value, flags: 0, acquire: lock.session, waitMs: lock.waitMs, signal: req.signal }));
        } finally {
          release?.();
        }
      }
      if (lock) return fastJson(200, await d.locks({ key, value, flags: 0, [lock.op]: lock.session, signal: req.signal }));
      const out = await d.propose({ type: "KVSet", v: 1, at: Date.now(), key, value, flags: 0, cas: undefined });
      const reply = fastJson(200, out.result.ok ? out.result.value === true : false);
      if (out.index !== undefined) commitTrace?.responded(out.index);
      return reply;
    },
  });
}
