// Consul sessions and KV locks on real processes, as a client sees them:
// create/info/node/list/renew/destroy shapes, acquire/release answers,
// LockIndex and Session in KV answers, lock-delay refusals, Behavior
// delete, TTL invalidation (valid for TTL, gone by 2×TTL), a bound check
// turning critical, an agent's node going down, blocking session reads,
// and /v1/txn (all or nothing, 409 with OpIndex, the 128-op limit).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, freePort, getJson, killAll, sleep, startCorral, type CorralProcess } from "../helpers/proc.ts";

let dev: CorralProcess;
afterAll(killAll);

beforeAll(async () => {
  dev = await startCorral({ role: "dev", config: `[leader]\nsession_ttl_min = "1s"\n` });
});

const J = { "content-type": "application/json" };
async function put(base: string, path: string, body?: unknown, raw = false) {
  const r = await fetch(base + path, { method: "PUT", headers: raw ? {} : J, body: body === undefined ? undefined : raw ? String(body) : JSON.stringify(body) });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}
const createSession = async (body: unknown = {}, base = dev.url) => {
  const r = await put(base, "/v1/session/create", body);
  expect(r.status).toBe(200);
  return r.json.ID as string;
};
type KV = { LockIndex: number; Key: string; Value: string | null; Session?: string; ModifyIndex: number; Flags: number };
const kv = async (key: string, base = dev.url) => {
  const r = await getJson<KV[]>(`${base}/v1/kv/${key}`);
  return r.status === 200 ? r.body[0] : undefined;
};

describe("sessions", () => {
  test("create, info, node, list, renew and destroy answer in Consul's shapes", async () => {
    const id = await createSession({ Name: "web-lock", TTL: "30s", LockDelay: "2s", Behavior: "release" });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const self = (await getJson(`${dev.url}/v1/agent/self`)).body;
    const node = self.Config.NodeName;
    // Clients size their TTLs by it: [leader] session_ttl_min of this node's config.
    expect(self.Config.SessionTTLMin).toBe("1s");
    expect(self.DebugConfig).toMatchObject({ SessionTTLMin: "1s", SessionTTLMax: "24h0m0s" });
    const info = await getJson(`${dev.url}/v1/session/info/${id}`);
    expect(info.status).toBe(200);
    expect(Number(info.headers.get("x-consul-index"))).toBeGreaterThan(0);
    expect(info.body).toEqual([{
      ID: id, Name: "web-lock", Node: node, LockDelay: 2e9, Behavior: "release", TTL: "30s",
      Checks: ["serfHealth"], NodeChecks: ["serfHealth"], ServiceChecks: null,
      CreateIndex: info.body[0].CreateIndex, ModifyIndex: info.body[0].CreateIndex,
    }]);
    expect((await getJson(`${dev.url}/v1/session/node/${node}`)).body.map((s: any) => s.ID)).toContain(id);
    expect((await getJson(`${dev.url}/v1/session/list`)).body.map((s: any) => s.ID)).toContain(id);
    const renewed = await put(dev.url, `/v1/session/renew/${id}`);
    expect(renewed.status).toBe(200);
    expect(renewed.json[0].ID).toBe(id);
    expect(await put(dev.url, `/v1/session/destroy/${id}`)).toMatchObject({ status: 200, json: true });
    expect((await getJson(`${dev.url}/v1/session/info/${id}`)).body).toEqual([]);
    const gone = await put(dev.url, `/v1/session/renew/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.text).toBe(`Session id '${id}' not found`);
  });

  test("bad input: clear 400s (TTL bounds, Behavior, LockDelay), unknown node or check refused", async () => {
    expect(await put(dev.url, "/v1/session/create", { TTL: "500ms" })).toMatchObject({ status: 400, text: "Invalid Session TTL '500ms', must be between [1s=24h0m0s]" });
    expect(await put(dev.url, "/v1/session/create", { TTL: "soon" })).toMatchObject({ status: 400 });
    expect(await put(dev.url, "/v1/session/create", { Behavior: "explode" })).toMatchObject({ status: 400, text: "Invalid Behavior setting 'explode'" });
    expect((await put(dev.url, "/v1/session/create", { LockDelay: "2m" })).status).toBe(400);
    expect((await put(dev.url, "/v1/session/create", { Node: "no-such-node" })).text).toBe("Missing node registration");
    expect((await put(dev.url, "/v1/session/create", { NodeChecks: ["nope"] })).text).toBe("Missing check 'nope' registration");
    expect((await put(dev.url, "/v1/session/create", "[1,2]", true)).status).toBe(400);
  });

  test("a blocking info read returns when the session is destroyed", async () => {
    const id = await createSession();
    const first = await getJson(`${dev.url}/v1/session/info/${id}`);
    const index = first.headers.get("x-consul-index");
    const started = Date.now();
    const pending = getJson(`${dev.url}/v1/session/info/${id}?index=${index}&wait=20s`);
    await sleep(300);
    await put(dev.url, `/v1/session/destroy/${id}`);
    const after = await pending;
    expect(after.body).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("a TTL session is valid for its TTL, renewals keep it, and it is gone by 2×TTL", async () => {
    const id = await createSession({ TTL: "1s", LockDelay: "0s" });
    expect(await put(dev.url, `/v1/kv/coord/ttl?acquire=${id}`, "held", true)).toMatchObject({ json: true });
    for (let i = 0; i < 4; i++) {
      await sleep(600);
      expect((await put(dev.url, `/v1/session/renew/${id}`)).status).toBe(200);
    }
    const stopped = Date.now();
    await eventually(async () => (await getJson(`${dev.url}/v1/session/info/${id}`)).body.length === 0, 10_000, 100);
    // Consul's contract: valid for at least TTL after the last renewal.
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(1000);
    const e = await kv("coord/ttl");
    expect(e?.Session).toBeUndefined();
    expect(e?.LockIndex).toBe(1);
  });
});

describe("KV locks", () => {
  test("acquire, contention, release: Consul's true/false, LockIndex and Session in every answer", async () => {
    const a = await createSession({ LockDelay: "0s" });
    const b = await createSession({ LockDelay: "0s" });
    expect(await put(dev.url, `/v1/kv/coord/l1?acquire=${a}&flags=42`, "a", true)).toMatchObject({ status: 200, json: true });
    let e = await kv("coord/l1");
    expect(e).toMatchObject({ LockIndex: 1, Session: a, Flags: 42, Value: Buffer.from("a").toString("base64") });
    // Re-acquire by the holder: value changes, LockIndex stays.
    expect((await put(dev.url, `/v1/kv/coord/l1?acquire=${a}`, "a2", true)).json).toBe(true);
    expect(await kv("coord/l1")).toMatchObject({ LockIndex: 1, Session: a });
    expect((await put(dev.url, `/v1/kv/coord/l1?acquire=${b}`, "b", true)).json).toBe(false);
    expect((await put(dev.url, `/v1/kv/coord/l1?release=${b}`, "b", true)).json).toBe(false);
    // A plain write keeps the lock.
    expect((await put(dev.url, `/v1/kv/coord/l1`, "plain", true)).json).toBe(true);
    expect(await kv("coord/l1")).toMatchObject({ Session: a, LockIndex: 1 });
    // The listing shows the holder too.
    const listed = (await getJson<KV[]>(`${dev.url}/v1/kv/coord/l1?recurse`)).body;
    expect(listed[0]).toMatchObject({ Key: "coord/l1", Session: a });
    expect((await put(dev.url, `/v1/kv/coord/l1?release=${a}`, "free", true)).json).toBe(true);
    e = await kv("coord/l1");
    expect(e?.Session).toBeUndefined();
    expect(e).toMatchObject({ LockIndex: 1, Value: Buffer.from("free").toString("base64") });
    expect((await put(dev.url, `/v1/kv/coord/l1?acquire=${b}`, "b", true)).json).toBe(true);
    expect(await kv("coord/l1")).toMatchObject({ LockIndex: 2, Session: b });
  });

  test("acquire with cas: both must hold", async () => {
    const a = await createSession({ LockDelay: "0s" });
    await put(dev.url, "/v1/kv/coord/cas", "x", true);
    const idx = (await kv("coord/cas"))!.ModifyIndex;
    expect((await put(dev.url, `/v1/kv/coord/cas?acquire=${a}&cas=${idx + 100}`, "y", true)).json).toBe(false);
    expect((await kv("coord/cas"))?.Session).toBeUndefined();
    expect((await put(dev.url, `/v1/kv/coord/cas?acquire=${a}&cas=${idx}`, "y", true)).json).toBe(true);
    expect((await kv("coord/cas"))?.Session).toBe(a);
  });

  test("an unknown session is Consul's 500 Invalid session; acquire with release is a 400", async () => {
    const r = await put(dev.url, "/v1/kv/coord/x?acquire=3f0e5b2c-0000-0000-0000-000000000000", "v", true);
    expect(r).toMatchObject({ status: 500, text: 'Invalid session "3f0e5b2c-0000-0000-0000-000000000000"' });
    expect((await put(dev.url, "/v1/kv/coord/x?acquire=a&release=b", "v", true)).status).toBe(400);
    expect(await kv("coord/x")).toBeUndefined();
  });

  test("an invalidated session's keys get the lock-delay: no one acquires them before it ends", async () => {
    const a = await createSession({ LockDelay: "2s" });
    const b = await createSession({ LockDelay: "0s" });
    expect((await put(dev.url, `/v1/kv/coord/delay?acquire=${a}`, "a", true)).json).toBe(true);
    const destroyed = Date.now();
    await put(dev.url, `/v1/session/destroy/${a}`);
    expect((await put(dev.url, `/v1/kv/coord/delay?acquire=${b}`, "b", true)).json).toBe(false);
    const took = await eventually(async () => (await put(dev.url, `/v1/kv/coord/delay?acquire=${b}`, "b", true)).json === true, 10_000, 100);
    expect(took).toBe(true);
    expect(Date.now() - destroyed).toBeGreaterThanOrEqual(1900);
  });

  test("Behavior delete removes the session's keys when it ends", async () => {
    const a = await createSession({ Behavior: "delete", LockDelay: "0s" });
    expect((await put(dev.url, `/v1/kv/coord/eph?acquire=${a}`, "a", true)).json).toBe(true);
    await put(dev.url, `/v1/session/destroy/${a}`);
    expect(await kv("coord/eph")).toBeUndefined();
  });

  test("a bound check turning critical invalidates the session and releases its lock", async () => {
    const node = { Node: "ext-coord", Address: "10.1.1.1", Check: { CheckID: "disk", Name: "disk", Status: "passing" } };
    expect((await put(dev.url, "/v1/catalog/register", node)).status).toBe(200);
    const id = await createSession({ Node: "ext-coord", NodeChecks: ["disk"], LockDelay: "0s" });
    expect((await put(dev.url, `/v1/kv/coord/chk?acquire=${id}`, "a", true)).json).toBe(true);
    expect((await put(dev.url, "/v1/catalog/register", { ...node, Check: { ...node.Check, Status: "critical" } })).status).toBe(200);
    expect((await getJson(`${dev.url}/v1/session/info/${id}`)).body).toEqual([]);
    expect((await kv("coord/chk"))?.Session).toBeUndefined();
    // And a session cannot be created on a critical check.
    expect((await put(dev.url, "/v1/session/create", { Node: "ext-coord", NodeChecks: ["disk"] })).text).toBe("Check 'disk' is in critical state");
  });
});

describe("transactions", () => {
  test("all or nothing: a failed check rolls every op back and names its OpIndex", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const ok = await put(dev.url, "/v1/txn", [
      { KV: { Verb: "set", Key: "coord/t/a", Value: b64("1") } },
      { KV: { Verb: "set", Key: "coord/t/b", Value: b64("2"), Flags: 7 } },
      { KV: { Verb: "get", Key: "coord/t/a" } },
    ]);
    expect(ok.status).toBe(200);
    expect(ok.json.Errors).toBeNull();
    expect(ok.json.Results).toHaveLength(3);
    expect(ok.json.Results[0].KV).toMatchObject({ Key: "coord/t/a", Value: null, LockIndex: 0 });
    expect(ok.json.Results[2].KV).toMatchObject({ Key: "coord/t/a", Value: b64("1") });
    const a = await kv("coord/t/a");
    const failed = await put(dev.url, "/v1/txn", [
      { KV: { Verb: "set", Key: "coord/t/c", Value: b64("3") } },
      { KV: { Verb: "delete", Key: "coord/t/a" } },
      { KV: { Verb: "check-index", Key: "coord/t/b", Index: 1 } },
      { KV: { Verb: "check-not-exists", Key: "coord/t/b" } },
    ]);
    expect(failed.status).toBe(409);
    expect(failed.json.Results).toBeNull();
    expect(failed.json.Errors.map((e: any) => e.OpIndex)).toEqual([2, 3]);
    expect(failed.json.Errors[1].What).toBe('key "coord/t/b" exists');
    expect(await kv("coord/t/c")).toBeUndefined();
    expect((await kv("coord/t/a"))?.ModifyIndex).toBe(a!.ModifyIndex);
  });

  test("lock, check-session and unlock verbs; cas and delete-cas", async () => {
    const s = await createSession({ LockDelay: "0s" });
    const r = await put(dev.url, "/v1/txn", [
      { KV: { Verb: "lock", Key: "coord/t/lock", Value: "", Session: s } },
      { KV: { Verb: "check-session", Key: "coord/t/lock", Session: s } },
    ]);
    expect(r.status).toBe(200);
    expect(r.json.Results[0].KV).toMatchObject({ LockIndex: 1, Session: s });
    const other = await createSession({ LockDelay: "0s" });
    const held = await put(dev.url, "/v1/txn", [{ KV: { Verb: "lock", Key: "coord/t/lock", Session: other } }]);
    expect(held.json.Errors).toEqual([{ OpIndex: 0, What: 'failed to lock key "coord/t/lock", lock is already held' }]);
    expect((await put(dev.url, "/v1/txn", [{ KV: { Verb: "unlock", Key: "coord/t/lock", Session: s } }])).status).toBe(200);
    const idx = (await kv("coord/t/lock"))!.ModifyIndex;
    expect((await put(dev.url, "/v1/txn", [{ KV: { Verb: "cas", Key: "coord/t/lock", Index: idx + 1, Value: "" } }])).json.Errors[0].What)
      .toBe('failed to set key "coord/t/lock", index is stale');
    expect((await put(dev.url, "/v1/txn", [{ KV: { Verb: "delete-cas", Key: "coord/t/lock", Index: idx } }])).status).toBe(200);
    expect(await kv("coord/t/lock")).toBeUndefined();
  });

  test("Consul's limit: more than 128 ops is a 413; bad ops are 400s", async () => {
    const ops = Array.from({ length: 129 }, (_, i) => ({ KV: { Verb: "set", Key: `coord/many/${i}`, Value: "" } }));
    expect(await put(dev.url, "/v1/txn", ops)).toMatchObject({ status: 413, text: "Transaction contains too many operations (129 > 128)" });
    expect((await put(dev.url, "/v1/txn", ops.slice(0, 128))).status).toBe(200);
    expect((await put(dev.url, "/v1/txn", [{ KV: { Verb: "explode", Key: "k" } }])).status).toBe(400);
    expect((await put(dev.url, "/v1/txn", { KV: {} })).status).toBe(400);
    expect((await put(dev.url, "/v1/txn", [{ KV: { Verb: "set", Key: "k", Value: "%%%" } }])).status).toBe(400);
  });
});

describe("an agent's node going down", () => {
  test("invalidates the sessions bound to its serfHealth and releases their locks", async () => {
    const SECRET = "coord-test-secret-0123456789";
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n[leader]\nnode_ttl = "2s"\n` });
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "coord-agent"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n`,
    });
    await eventually(async () => (await getJson<{ Node: string }[]>(`${leader.url}/v1/catalog/nodes`)).body.some((n) => n.Node === "coord-agent"), 15_000);
    // Created through the agent: it forwards to the leader, and the session is the agent's node's.
    const id = await createSession({ LockDelay: "0s" }, agent.url);
    expect((await getJson(`${leader.url}/v1/session/info/${id}`)).body[0]).toMatchObject({ Node: "coord-agent", NodeChecks: ["serfHealth"] });
    expect((await put(agent.url, `/v1/kv/coord/agent-lock?acquire=${id}`, "a", true)).json).toBe(true);
    await agent.kill("SIGKILL");
    await eventually(async () => (await getJson(`${leader.url}/v1/session/info/${id}`)).body.length === 0, 20_000, 200);
    expect((await kv("coord/agent-lock", leader.url))?.Session).toBeUndefined();
  }, 60_000);
});
