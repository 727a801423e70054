// The leader's heartbeat fast path answers like the route it shadows:
// signature, size and schema checks, membership errors as JSON; other
// requests, and every request on a follower, fall through to the route table.
import { describe, expect, test } from "bun:test";
import { heartbeatFast } from "../../core/cluster/heartbeat-fast.ts";
import { HeartbeatRequest } from "../../core/cluster/protocol.ts";
import { dispatchOne } from "../helpers/fast-path.ts";
import { RpcVerifier, signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { ApiError } from "../../core/http/errors.ts";

const SECRET = "fast-path-secret-0123456789";
const ID = "11111111-1111-4111-8111-111111111111";

function setup(leader = true) {
  const seen: string[] = [];
  const membership = {
    heartbeat: async (req: { id: string }) => {
      if (req.id !== ID) throw new ApiError(404, "UNKNOWN_NODE", "join first");
      seen.push(req.id);
      return { ok: true, status: "ready" };
    },
  } as never;
  let count = 0;
  const fast = dispatchOne("post", "/v1/cluster/heartbeat", heartbeatFast({ membership, isLeader: () => leader, counter: { inc: () => void count++ } }), {
    verifier: new RpcVerifier({ secret: SECRET, isOurs: (a) => a === "127.0.0.1:7700" }), maxBodyBytes: 1000, bodySchema: HeartbeatRequest,
    // The route table's refusal, marked so the test sees where it came from.
    fallback: () => Response.json({ error: "refused by the route table", code: "FALLBACK" }, { status: 401 }),
  });
  return { fast, seen, count: () => count };
}

function req(body: unknown, opts: { secret?: string; path?: string; method?: string } = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const path = opts.path ?? "/v1/cluster/heartbeat";
  return new Request("http://127.0.0.1:7700" + path, {
    method: opts.method ?? "POST", body: text,
    // The Host a server sees (a Request made here has none): the signature names it.
    headers: { host: "127.0.0.1:7700", "content-type": "application/json", "content-length": String(text.length), [SIGNATURE_HEADER]: signRequest({ secret: opts.secret ?? SECRET, node: "test-node" }, "POST", path, text, { to: "127.0.0.1:7700" }) },
  });
}

describe("heartbeat fast path", () => {
  test("answers a signed heartbeat on the leader", async () => {
    const s = setup();
    const res = await s.fast(req({ id: ID }))!;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, status: "ready" });
    expect(s.seen).toEqual([ID]);
    expect(s.count()).toBe(1);
  });

  test("refuses a bad signature, bad JSON, a bad schema; passes membership errors on", async () => {
    const s = setup();
    // A forged MAC is left to the route table unread (it refuses and audits).
    expect(s.fast(req({ id: ID }, { secret: "wrong-secret-0123456789" }))).toBeUndefined();
    // A body other than the signed one is read, then handed to the route table likewise.
    const good = req({ id: ID });
    const swapped = new Request(good.url, { method: "POST", headers: good.headers, body: JSON.stringify({ id: ID, x: 1 }).slice(0, Number(good.headers.get("content-length"))) });
    const tampered = await s.fast(swapped)!;
    expect([tampered.status, ((await tampered.json()) as { code: string }).code]).toEqual([401, "FALLBACK"]);
    // As the route answers it (test/cluster/fast-path-corpus.test.ts compares the two).
    expect(await (await s.fast(req("{not json"))!).json()).toMatchObject({ code: "BAD_REQUEST", error: "Malformed JSON in request body" });
    expect(await (await s.fast(req({ id: "nope" }))!).json()).toMatchObject({ code: "INVALID_INPUT", error: expect.stringContaining("id") });
    const unknown = await s.fast(req({ id: "22222222-2222-4222-8222-222222222222" }))!;
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, "UNKNOWN_NODE"]);
  });

  test("leaves other paths, followers and oversized bodies to the route table", () => {
    expect(setup().fast(req({ id: ID }, { path: "/v1/cluster/join" }))).toBeUndefined();
    expect(setup(false).fast(req({ id: ID }))).toBeUndefined();
    expect(setup().fast(req({ id: ID, pad: "x".repeat(2000) }))).toBeUndefined();
    // A header that fails before the body is read: the route table refuses it, body unread.
    const unsigned = req({ id: ID });
    unsigned.headers.delete(SIGNATURE_HEADER);
    expect(setup().fast(unsigned)).toBeUndefined();
  });
});
