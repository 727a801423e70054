// Which agent requests the two agent fast paths take, run by the route
// table's dispatcher without a node (the dispatcher answers undefined: the
// route answers; a body whose signature fails once read goes to the route's
// fetch, marked here):
//   - GET /v1/node/{id}/allocations (core/api/node-alloc-fast.ts): an agent's
//     plain watch (`index`, `wait`) on the leader while no ACL, audit or rate
//     limit is configured; its node signature checked with the node's one
//     verifier (a forged, replayed, stale or misaddressed one makes it a
//     client's read, which goes to the route);
//   - POST /v1/cluster/propose (core/cluster/propose-fast.ts): a cluster-signed
//     write whose body matches its signature, on any leader-role node.
// The corpus (test/cluster/fast-path-corpus.test.ts) compares the answers
// with the route's on a real node.
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { nodeAllocFast } from "../../core/api/node-alloc-fast.ts";
import { proposeFast } from "../../core/cluster/propose-fast.ts";
import { fastDispatcher } from "../../core/http/fast-dispatch.ts";
import { HeldSlots } from "../../core/http/middleware/held-limit.ts";
import { RpcVerifier, signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { PEER_PREFIXES } from "../../core/http/peer-paths.ts";
import { Command } from "../../core/state/commands.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } } as never;
const SECRET = "agent-fast-secret-0123456789";
const HOST = "127.0.0.1:7700";
const NODE = "11111111-1111-4111-8111-111111111111";
const ALLOCS = `/v1/node/${NODE}/allocations`;
/** The route's answer for a request the fast path handed over after reading it (a refused signature). */
const ROUTE = 599;

function setup(o: { open?: boolean; leader?: boolean; heldPerAddress?: number } = {}) {
  const reads: { nodeId: string; index: number; waitMs: number }[] = [];
  const barriers: boolean[] = [];
  const proposed: unknown[] = [];
  /** While set, reads wait for it (a blocking read still held). */
  const gate: { wait?: Promise<void> } = {};
  const verifier = new RpcVerifier({ secret: SECRET, isOurs: (a) => a === HOST });
  const allocs = nodeAllocFast({
    status: () => ({ isLeader: o.leader ?? true, leader: "me:1" }) as never,
    params: z.object({ id: z.string().min(1).max(256) }),
    read: async (nodeId, index, waitMs) => {
      reads.push({ nodeId, index, waitMs });
      await gate.wait;
      return { index: 12, body: "[]" };
    },
  });
  const propose = proposeFast({ propose: async (cmd) => (proposed.push(cmd), { index: 9, result: { ok: true, value: null } }) as never });
  const dispatch = fastDispatcher([
    { method: "get", path: "/v1/node/{id}/allocations", fast: allocs },
    { method: "post", path: "/v1/cluster/propose", fast: propose, bodySchema: Command },
  ], {
    verifier, signedPrefixes: PEER_PREFIXES, bodyCap: () => 10_000, open: () => o.open ?? true, log: silent, appliedIndex: () => 40,
    held: new HeldSlots({ streamsPerToken: 0, streamsPerAddress: 0, blockingPerToken: 0, blockingPerAddress: o.heldPerAddress ?? 0 }),
    leaderRead: async (consistent) => void barriers.push(consistent),
  }, () => new Response("route", { status: ROUTE }))!;
  return { dispatch, reads, barriers, proposed, gate };
}

type Sign = "valid" | "forged" | "stale" | "other-receiver" | "none";
function signature(how: Sign, method: string, path: string, body: string): Record<string, string> {
  if (how === "none") return {};
  const secret = how === "forged" ? "another-secret-0123456789abcdef" : SECRET;
  const now = how === "stale" ? Date.now() - 3_600_000 : undefined;
  return { [SIGNATURE_HEADER]: signRequest({ secret, node: "agent-1" }, method, path, body, { to: how === "other-receiver" ? "127.0.0.1:1" : HOST, now }) };
}

/** An agent's watch, as its leader transport forwards it (core/http/proxy.ts proxyRequest): signed, one hop. */
const watch = (path = `${ALLOCS}?index=5&wait=30000ms`, how: Sign = "valid", extra: Record<string, string> = {}) =>
  new Request(`http://${HOST}${path}`, { headers: { host: HOST, "x-corral-forwarded": "1", ...signature(how, "GET", path, ""), ...extra } });

const REPORT = JSON.stringify({ type: "UpdateAllocStatus", v: 1, at: 1, nodeId: NODE, updates: [{ allocId: NODE, clientStatus: "running", description: "", taskStates: {} }] });
const report = (body = REPORT, how: Sign = "valid", signedBody = body) =>
  new Request(`http://${HOST}/v1/cluster/propose`, {
    method: "POST", body,
    headers: { host: HOST, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...signature(how, "POST", "/v1/cluster/propose", signedBody) },
  });

describe("the agents' allocation watch fast path", () => {
  test("takes a signed agent's watch on the leader: the route's read, its index and body, the lease wait", async () => {
    const s = setup();
    const res = await s.dispatch(watch())!;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-corral-index")).toBe("12");
    expect(res.headers.get("content-security-policy")).toBe("sandbox");
    expect(await res.text()).toBe("[]");
    expect(s.reads).toEqual([{ nodeId: NODE, index: 5, waitMs: 30_000 }]);
    expect(s.barriers).toEqual([false]);
  });

  test("a replayed signature is a client's read: the route's, unread", async () => {
    const s = setup();
    const first = watch();
    expect((await s.dispatch(first)!).status).toBe(200);
    // The same header again (its nonce spent): left to the route unread.
    expect(s.dispatch(new Request(first.url, { headers: first.headers }))).toBeUndefined();
    expect(s.reads.length).toBe(1);
  });

  test("forged, stale and misaddressed signatures go to the route, as do other reads", () => {
    const s = setup();
    for (const how of ["forged", "stale", "other-receiver"] as const) expect(s.dispatch(watch(undefined, how))).toBeUndefined();
    const others = [
      `${ALLOCS}?index=5&wait=30000ms&stale`, `${ALLOCS}?consistent`, `${ALLOCS}?index=1&index=2`, `${ALLOCS}?token=x`,
      `${ALLOCS}?index=${"1".repeat(21)}`, `/v1/node/%41/allocations`, `/v1/node/a/b/allocations`, `${ALLOCS}/`,
      `/v1/node/${"n".repeat(257)}/allocations`, `/v1/node/${NODE}`, `/v1/node/${NODE}/drain`, `/v1/node//allocations`,
    ];
    for (const path of others) expect([path, s.dispatch(watch(path))]).toEqual([path, undefined]);
    // HEAD, and a GET with a body.
    expect(s.dispatch(new Request(`http://${HOST}${ALLOCS}`, { method: "HEAD", headers: { host: HOST } }))).toBeUndefined();
    expect(s.dispatch(watch(undefined, "valid", { "content-length": "0" }))).toBeUndefined();
    expect(s.reads).toEqual([]);
  });

  test("not on a follower, nor while an ACL, audit or rate limit is configured", () => {
    expect(setup({ leader: false }).dispatch(watch())).toBeUndefined();
    expect(setup({ open: false }).dispatch(watch())).toBeUndefined();
  });

  test("a client's unsigned watch takes the held-limit slot (an agent's signed one does not); a refusal carries X-Corral-Index", async () => {
    const s = setup({ heldPerAddress: 1 });
    const env = { requestIP: () => ({ address: "10.0.0.9" }) };
    const unsigned = () => new Request(`http://${HOST}${ALLOCS}?index=5`, { headers: { host: HOST } });
    let open!: () => void;
    s.gate.wait = new Promise<void>((r) => (open = r));
    // The address cap of 1, held by a client's read still waiting: a second is refused, an agent's signed one is not.
    const held = s.dispatch(unsigned(), env)!;
    await Bun.sleep(1);
    const refused = await s.dispatch(unsigned(), env)!;
    expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([429, "TOO_MANY_BLOCKING_QUERIES"]);
    expect(refused.headers.get("x-corral-index")).toBe("40");
    const signed = s.dispatch(watch(), env)!;
    open();
    expect([(await held).status, (await signed).status]).toEqual([200, 200]);
    // Released with the answer.
    s.gate.wait = undefined;
    expect((await s.dispatch(unsigned(), env)!).status).toBe(200);
    const bad = await s.dispatch(watch(`${ALLOCS}?index=abc`))!;
    expect([bad.status, bad.headers.get("x-corral-index"), ((await bad.json()) as { code: string }).code]).toEqual([400, "40", "INVALID_INPUT"]);
  });
});

describe("the replicated-write (status report) fast path", () => {
  test("takes a signed report: the schema's parse, the write's outcome as the route answers it", async () => {
    const s = setup();
    const res = await s.dispatch(report())!;
    expect([res.status, await res.json()]).toEqual([200, { index: 9, result: { ok: true, value: null } }]);
    expect(s.proposed).toEqual([JSON.parse(REPORT)]);
    const bad = await s.dispatch(report(JSON.stringify({ type: "Bogus" })))!;
    expect(bad.status).toBe(400);
    expect(s.proposed.length).toBe(1);
  });

  test("forged, stale, misaddressed or unsigned go to the route unread; a body other than the signed one to the route after reading", async () => {
    const s = setup();
    for (const how of ["forged", "stale", "other-receiver", "none"] as const) expect(s.dispatch(report(REPORT, how))).toBeUndefined();
    const swapped = await s.dispatch(report(REPORT, "valid", REPORT.replace('"v":1', '"v":2')));
    expect(swapped?.status).toBe(ROUTE);
    const first = report();
    const replayed = new Request(first.url, { method: "POST", headers: first.headers, body: REPORT });
    expect((await s.dispatch(first)!).status).toBe(200);
    expect(s.dispatch(replayed)).toBeUndefined();
    expect(s.proposed.length).toBe(1);
  });

  test("taken whatever the ACL settings and on a follower (a peer route; the write reaches the leader itself)", async () => {
    expect((await setup({ open: false, leader: false }).dispatch(report())!).status).toBe(200);
  });
});
