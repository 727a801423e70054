// Which key reads the fast path takes (core/api/kv-read-fast.ts), run by the
// route table's dispatcher without a node: a plain GET of one key with only
// index/wait/stale/consistent/dc, on the leader (or stale), while no ACL,
// audit or rate limit is configured. Everything else goes to the route (the
// dispatcher answers undefined): HEAD, a GET with a body, ?token=, listings,
// duplicate or unknown parameters, encoded keys, another node's hop, a
// follower's non-stale read. test/coord/kv-read-fast.test.ts and the corpus
// (test/cluster/fast-path-corpus.test.ts) check the answers on real nodes.
import { describe, expect, test } from "bun:test";
import { kvReadFast } from "../../core/api/kv-read-fast.ts";
import { keyParam, kvTopic } from "../../core/api/kv.ts";
import { fastDispatcher } from "../../core/http/fast-dispatch.ts";
import { HeldSlots } from "../../core/http/middleware/held-limit.ts";
import { RpcVerifier } from "../../core/http/middleware/cluster-auth.ts";
import { PEER_PREFIXES } from "../../core/http/peer-paths.ts";
import type { StateReader } from "../../core/state/reader.ts";
import type { KvEntry } from "../../core/state/domains/kv.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } } as never;

function setup(o: { open?: boolean; leader?: boolean; entry?: KvEntry } = {}) {
  const barriers: boolean[] = [];
  const state = {
    appliedIndex: () => 7,
    kvGet: () => o.entry,
    kvPrefixIndex: () => 3,
    blocking: async (_opts: unknown, read: () => { index: number; value: unknown }) => read(),
  } as unknown as StateReader;
  const fast = kvReadFast({
    state, status: () => ({ isLeader: o.leader ?? true, leader: "me:1", lastContactMs: 0 }) as never, datacenter: "dc1", params: keyParam, topic: kvTopic,
  });
  const dispatch = fastDispatcher([{ method: "get", path: "/v1/kv/{key{.*}}", fast }], {
    verifier: new RpcVerifier({ secret: "unused-secret-0123456789", isOurs: () => false }),
    signedPrefixes: PEER_PREFIXES, bodyCap: () => 1000, open: () => o.open ?? true, log: silent,
    held: new HeldSlots({ streamsPerToken: 0, streamsPerAddress: 0, blockingPerToken: 0, blockingPerAddress: 0 }),
    leaderRead: async (consistent) => void barriers.push(consistent),
  }, () => { throw new Error("no route table here"); })!;
  return { dispatch, barriers };
}

const get = (path: string, init: RequestInit = {}) => new Request("http://127.0.0.1:7700" + path, init);
const ENTRY: KvEntry = { key: "l/.lock", value: "", flags: 0, createIndex: 4, modifyIndex: 9, session: "", lockIndex: 1 };

describe("KV key read fast path", () => {
  test("takes a plain key read and answers as the route: body, X-Consul-*, X-Corral-Index, 404 with the index under the key", async () => {
    const s = setup({ entry: ENTRY });
    const res = await s.dispatch(get("/v1/kv/l/.lock?index=3&wait=1s"))!;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-consul-index")).toBe("9");
    expect(res.headers.get("x-consul-effective-consistency")).toBe("leader");
    expect(res.headers.get("x-corral-index")).toBe("7");
    expect(res.headers.get("content-security-policy")).toBe("sandbox");
    expect(await res.json()).toEqual([{ LockIndex: 1, Key: "l/.lock", Flags: 0, Value: null, CreateIndex: 4, ModifyIndex: 9 }]);
    const missing = await setup().dispatch(get("/v1/kv/none"))!;
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-consul-index")).toBe("3");
    expect(await missing.text()).toBe("");
  });

  test("waits at the read gate as the route: the lease by default, a read-index round with ?consistent, none with ?stale", async () => {
    const s = setup({ entry: ENTRY });
    await s.dispatch(get("/v1/kv/k"));
    await s.dispatch(get("/v1/kv/k?consistent"));
    await s.dispatch(get("/v1/kv/k?stale"));
    expect(s.barriers).toEqual([false, true]);
  });

  test("leaves everything else to the route", () => {
    const s = setup({ entry: ENTRY });
    const routed: [string, Request][] = [
      ["HEAD", get("/v1/kv/k", { method: "HEAD" })],
      ["a body", get("/v1/kv/k", { headers: { "content-length": "0" } })],
      ["?token=", get("/v1/kv/k?token=t")],
      ["?recurse", get("/v1/kv/k?recurse")],
      ["?keys", get("/v1/kv/k?keys")],
      ["?raw", get("/v1/kv/k?raw")],
      ["?separator", get("/v1/kv/k?separator=/")],
      ["a duplicate index", get("/v1/kv/k?index=1&index=2")],
      ["a duplicate stale", get("/v1/kv/k?stale&stale")],
      ["an unknown parameter", get("/v1/kv/k?acquire=x")],
      ["an encoded key", get("/v1/kv/a%2Fb")],
      ["no key", get("/v1/kv/")],
      ["a key over the limit", get("/v1/kv/" + "k".repeat(1025))],
      ["a signed hop", get("/v1/kv/k", { headers: { "X-Corral-Signature": "x" } })],
      ["a forwarded hop", get("/v1/kv/k", { headers: { "X-Corral-Forwarded": "1" } })],
      ["a client read mark", get("/v1/kv/k", { headers: { "X-Corral-Client-Read": "1" } })],
    ];
    expect(routed.filter(([, req]) => s.dispatch(req) !== undefined).map(([name]) => name)).toEqual([]);
    // ACLs, audit or a rate limit configured: every read goes to the route (its ACL middleware decides).
    expect(setup({ open: false, entry: ENTRY }).dispatch(get("/v1/kv/k?index=1"))).toBeUndefined();
    // A follower forwards a non-stale read (the route's gate); a stale one it answers from its copy.
    const follower = setup({ leader: false, entry: ENTRY });
    expect(follower.dispatch(get("/v1/kv/k"))).toBeUndefined();
    expect(follower.dispatch(get("/v1/kv/k?consistent"))).toBeUndefined();
    expect(follower.dispatch(get("/v1/kv/k?stale"))).toBeDefined();
  });

  test("the waiters of one change share the answer, and a new ModifyIndex is a new answer", async () => {
    const entry = { ...ENTRY };
    const s = setup({ entry });
    const first = (await (await s.dispatch(get("/v1/kv/l/.lock"))!).json()) as { ModifyIndex: number; Value: string | null }[];
    entry.value = "bmV3";
    entry.modifyIndex = 10;
    const second = (await (await s.dispatch(get("/v1/kv/l/.lock"))!).json()) as { ModifyIndex: number; Value: string | null }[];
    expect([first[0]!.ModifyIndex, first[0]!.Value, second[0]!.ModifyIndex, second[0]!.Value]).toEqual([9, null, 10, "bmV3"]);
  });
});
