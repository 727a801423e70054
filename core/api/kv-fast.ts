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
import type { LockWriter } from "./kv-lock-write.ts";
import { commitTrace } from "../cluster/raft/commit-trace.ts";

export interface KvWriteFastDeps {
  propose(cmd: Command): Promise<{ index?: number; result: { ok: boolean; value?: unknown } }>;
  /** The node's lock writer (the route's): `?acquire=`/`?release=` writes are answered here too. */
  locks: LockWriter;
  /** The route's path parameters schema ({ key }): a key it refuses goes to the route, which answers why. */
  params: ZodType;
}

/** The one query a lock write may carry here: acquire or release, a session id's characters (anything else: the route). */
const LOCK_QUERY = /^(acquire|release)=([A-Za-z0-9-]{1,64})$/;

interface KvWrite {
  key: string;
  lock?: { op: "acquire" | "release"; session: string };
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
        const m = LOCK_QUERY.exec(url.slice(q + 1));
        if (!m) return undefined;
        lock = { op: m[1] as "acquire" | "release", session: m[2]! };
      }
      // Percent-encoded keys go to the route: hono's decoding is the reference.
      if (key === "" || key.includes("%") || !d.params.safeParse({ key }).success) return undefined;
      return { key, lock };
    },
    answer: async ({ body, taken: { key, lock }, req }) => {
      const value = Buffer.from(body).toString("base64");
      if (lock) return fastJson(200, await d.locks({ key, value, flags: 0, [lock.op]: lock.session, signal: req.signal }));
      const out = await d.propose({ type: "KVSet", v: 1, at: Date.now(), key, value, flags: 0, cas: undefined });
      const reply = fastJson(200, out.result.ok ? out.result.value === true : false);
      if (out.index !== undefined) commitTrace?.responded(out.index);
      return reply;
    },
  });
}
