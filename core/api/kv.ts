// Consul-compatible KV: GET (recurse, keys, separator, raw, blocking),
// PUT (raw body, flags, cas), DELETE (recurse, cas). Shapes and errors as in
// shared/reference/consul-http-api.md §7.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { blockingParams, checkDatacenter, flag, setConsulHeaders } from "../http/consul.ts";
import { consulError } from "../http/errors.ts";
import { readScope } from "../acl/read-scope.ts";
import { MAX_KV_VALUE_BYTES, type KvEntry } from "../state/domains/kv.ts";
import { kvView } from "../state/domains/txn.ts";
import type { WatchTopic } from "../state/watch.ts";
import { lockWaitMs, lockWriter, type LockWriter } from "./kv-lock-write.ts";
import { kvWriteFast } from "./kv-fast.ts";
import { kvReadFast } from "./kv-read-fast.ts";
import type { CoreApiDeps } from "./deps.ts";
import { pathParam } from "./schemas.ts";

const KvEntryView = z
  .object({
    LockIndex: z.number(), Key: z.string(), Flags: z.number(), Value: z.string().nullable(),
    Session: z.string().optional(), CreateIndex: z.number(), ModifyIndex: z.number(),
  })
  .openapi("KVPair");

/** Longest KV key (characters); the write fast path (kv-fast.ts) checks it with the route's schema. */
export const MAX_KEY_CHARS = 1024;

/** The path parameters of the KV routes; the write fast path checks keys with it. */
export const keyParam = z.object({ key: z.string().max(MAX_KEY_CHARS) });
const kvQuery = z.object({
  recurse: z.string().optional(), keys: z.string().optional(), separator: z.string().max(64).optional(),
  raw: z.string().optional(), index: z.string().optional(), wait: z.string().optional(), dc: z.string().optional(),
  stale: z.string().optional(), consistent: z.string().optional(), token: z.string().optional(),
  flags: z.string().optional(), cas: z.string().optional(),
  acquire: z.string().max(64).optional(), release: z.string().max(64).optional(),
});

const PATH = "/v1/kv/{key{.*}}";

// Consul's DirEntry, Session only while the key is locked (core/state/domains/txn.ts).
const view = (e: KvEntry) => kvView(e);

function uintParam(c: Context, name: string): number | undefined {
  const v = new URL(c.req.url).searchParams.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,20}$/.test(v) || !Number.isSafeInteger(Number(v))) throw consulError(400, `Invalid ${name} value`);
  return Number(v);
}

/** What a KV blocking read waits on: writes to keys under `key` (core/state/watch.ts). */
export const kvTopic = (key: string): WatchTopic => ({ table: "kv", prefix: key });

/** Keys under prefix, each cut after the first separator past the prefix (Consul's keys+separator). */
export function listKeys(keys: string[], prefix: string, separator: string | null): string[] {
  if (!separator) return keys;
  const out = new Set<string>();
  for (const k of keys) {
    const at = k.indexOf(separator, prefix.length);
    out.add(at === -1 ? k : k.slice(0, at + separator.length));
  }
  return [...out].sort();
}

/** `locks`: the node's one lock writer, shared by the write route and its fast path. */
export function kvRoutes(d: CoreApiDeps, locks: LockWriter = lockWriter(d)) {
  const status = () => d.replicator?.status();

  d.routes.add({
    owner: "core",
    route: createRoute({
      method: "get", path: PATH, tags: ["kv"], summary: "Read a key, a prefix (?recurse) or key names (?keys); blocks with ?index",
      request: { params: keyParam, query: kvQuery },
      responses: {
        200: { description: "Entries, key names, or the raw value (?raw)", content: { "application/json": { schema: z.union([z.array(KvEntryView), z.array(z.string())]) } } },
        404: { description: "No such key (empty body)" },
      },
    }),
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const key = pathParam(c, "key");
      const params = blockingParams(c);
      const recurse = flag(c, "recurse");
      const keysMode = flag(c, "keys");
      const separator = new URL(c.req.url).searchParams.get("separator") ?? new URL(c.req.url).searchParams.get("seperator");
      const state = d.state;
      // ACLs: the route's check allowed a plain read of `key` (key:read); a
      // listing shows each key by its own rule. Hidden keys are dropped here,
      // before anything is derived from the list (404, ?raw, ?keys, separator,
      // X-Consul-Index), so none of those can tell a hidden key exists.
      const scope = readScope(c);
      const visible = scope.seesAllUnder("key", key) ? undefined : (k: string) => scope.can("key", k);
      const listing = recurse || keysMode;
      const { index, value } = await state.blocking(
        // Woken only by writes to keys under `key` (a single key's too: a missing key answers the index under it).
        { tables: [kvTopic(key)], minIndex: params.index, waitMs: params.waitMs, signal: c.req.raw.signal },
        () => {
          if (listing) {
            const entries = scope.keepUnder(state.kvList(key), "key", key, (e) => e.key);
            return { index: Math.max(state.kvPrefixIndex(key, visible), 1), value: entries };
          }
          const e = state.kvGet(key);
          return { index: e ? e.modifyIndex : Math.max(state.kvPrefixIndex(key, visible), 1), value: e ? [e] : [] };
        },
      );
      setConsulHeaders(c, index, status(), params.consistency);
      if (keysMode) {
        if (value.length === 0 && key !== "") return c.body(null, 404);
        return c.json(listKeys(value.map((e) => e.key), key, separator));
      }
      if (value.length === 0) return c.body(null, 404);
      // As Consul: ?raw applies to a single key only; with ?recurse the answer stays the JSON list.
      if (flag(c, "raw") && !recurse) {
        c.header("Content-Type", "text/plain; charset=utf-8");
        c.header("X-Content-Type-Options", "nosniff");
        return c.body(Buffer.from(value[0]!.value, "base64"));
      }
      return c.json(value.map(view));
    },
    leader: "read",
    // The plain read of one key (Consul's lock recipe waits with it) before hono on leader-role nodes (kv-read-fast.ts).
    fast: d.replicator
      ? kvReadFast({ state: d.state, status: () => d.replicator!.status(), datacenter: d.host.datacenter, params: keyParam, topic: kvTopic })
      : undefined,
  });

  d.routes.add({
    owner: "core",
    leader: "forward",
    route: createRoute({
      method: "put", path: PATH, tags: ["kv"], summary: "Write a key (raw body); ?cas=N for check-and-set, ?flags=N; ?acquire=<session>&wait=<d> waits for a held lock (corral)",
      request: { params: keyParam, query: kvQuery },
      responses: { 200: { description: "true, or false when a cas did not match", content: { "application/json": { schema: z.boolean() } } } },
    }),
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const key = pathParam(c, "key");
      if (key === "") throw consulError(400, "Missing key name");
      const q = new URL(c.req.url).searchParams;
      const acquire = q.get("acquire") ?? undefined;
      const release = q.get("release") ?? undefined;
      if (acquire !== undefined && release !== undefined) throw consulError(400, "Conflicting flags: acquire and release");
      if (acquire === "" || release === "") throw consulError(500, 'Invalid session ""');
      const flags = uintParam(c, "flags") ?? 0;
      const cas = uintParam(c, "cas");
      const waitMs = lockWaitMs(q);
      const body = new Uint8Array(await c.req.arrayBuffer());
      if (body.byteLength > MAX_KV_VALUE_BYTES) {
        throw consulError(413, `Request body(${body.byteLength} bytes) too large, max size: ${MAX_KV_VALUE_BYTES} bytes.`);
      }
      const value = Buffer.from(body).toString("base64");
      if (acquire !== undefined || release !== undefined) return c.json(await locks({ key, value, flags, cas, acquire, release, waitMs, signal: c.req.raw.signal }));
      const out = await d.propose({ type: "KVSet", v: 1, at: Date.now(), key, value, flags, cas });
      return c.json(out.result.ok ? out.result.value === true : false);
    },
    // A waiting acquire waits in the Raft leader's queue: a leader-role follower passes it on (an agent forwards it as any write).
    raftLeaderWhen: (c) => lockWaitMs(new URL(c.req.url).searchParams) !== undefined,
    // Plain and lock writes before hono on leader-role nodes (agents forward theirs through the route).
    fast: d.replicator ? kvWriteFast({ propose: d.propose, locks, params: keyParam, isLeader: () => d.replicator!.status().isLeader }) : undefined,
  });

  d.routes.add({
    owner: "core",
    leader: "forward",
    route: createRoute({
      method: "delete", path: PATH, tags: ["kv"], summary: "Delete a key, or a prefix with ?recurse; ?cas=N",
      request: { params: keyParam, query: kvQuery },
      responses: { 200: { description: "true, or false when a cas did not match", content: { "application/json": { schema: z.boolean() } } } },
    }),
    handler: async (c) => {
      checkDatacenter(c, d.host.datacenter);
      const key = pathParam(c, "key");
      const recurse = flag(c, "recurse");
      const cas = uintParam(c, "cas");
      if (recurse && cas !== undefined) throw consulError(400, "Conflicting flags: recurse and cas");
      if (!recurse && key === "") throw consulError(400, "Missing key name");
      const out = await d.propose({ type: "KVDelete", v: 1, at: Date.now(), key, recurse, cas });
      return c.json(out.result.ok ? out.result.value === true : false);
    },
  });
}
