// cluster.legacy_signatures against real processes: what a peer of the
// previous release (v1 signatures: t=<ms>,sig=HMAC(secret, t\nMETHOD\npath?query\nsha256(body)))
// and an attacker holding a captured v1 request see.
// - "off" (default): a v1 header is refused (401 SIGNATURE_LEGACY, saying the
//   format differs), on peer routes, the Raft fast path, and as a node
//   signature on client routes (ACLs apply: 403).
// - "accept": a good v1 header is accepted (peer routes, Raft fast path,
//   node-signed client writes); one outside ±30 s, with a forged MAC or
//   another body is refused; v2 keeps its replay protection; the node warns
//   that replay protection is off.
// - The browser guard (DNS rebinding: a Host the node does not list) exempts
//   a forwarded request only when its signature is one the node accepts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { devSecretOf, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call } from "../acl/helpers.ts";
import { post, sign, SIGNATURE_HEADER } from "./helpers-rpc.ts";
import { head, rawRequest } from "./helpers-browser.ts";

afterAll(() => killAll());

const RPC = "/v1/cluster/acl/intentions";
const RAFT = "/v1/raft/message";

/** The previous release's header, from its wire format (not through core). */
function signV1(secret: string, path: string, body: string, o: { method?: string; at?: number } = {}): string {
  const t = o.at ?? Date.now();
  const b = createHash("sha256").update(body).digest("hex");
  return `t=${t},sig=${createHmac("sha256", secret).update(`${t}\n${(o.method ?? "POST").toUpperCase()}\n${path}\n${b}`).digest("hex")}`;
}

interface Node { proc: CorralProcess; url: string; secret: string; management: string }

async function aclNode(legacy?: string): Promise<Node> {
  const proc = await startCorral({ role: "dev", config: ACL_CONFIG, env: legacy ? { CORRAL_CLUSTER_LEGACY_SIGNATURES: legacy } : {} });
  const boot = await getJson(proc.url + "/v1/acl/bootstrap", { method: "PUT" });
  if (boot.status !== 200) throw new Error(`bootstrap failed: ${boot.status}`);
  return { proc, url: proc.url, secret: devSecretOf(proc.dataDir), management: boot.body.SecretID };
}

let off: Node;
let accept: Node;
beforeAll(async () => {
  [off, accept] = await Promise.all([aclNode(), aclNode("accept")]);
}, 90_000);

const raftBody = JSON.stringify({ from: "peer-x", messages: [] });

describe('legacy_signatures = "off" (default)', () => {
  test("a good v1 header is refused on peer routes and the Raft fast path, saying the format differs", async () => {
    const r = await post(off.url, RPC, "{}", signV1(off.secret, RPC, "{}"));
    expect([r.status, r.body.code]).toEqual([401, "SIGNATURE_LEGACY"]);
    expect(r.body.error).toContain("format differs");
    const raft = await post(off.url, RAFT, raftBody, signV1(off.secret, RAFT, raftBody));
    expect([raft.status, raft.body.code]).toEqual([401, "SIGNATURE_LEGACY"]);
    const hb = await post(off.url, "/v1/cluster/heartbeat", "{}", signV1(off.secret, "/v1/cluster/heartbeat", "{}"));
    expect([hb.status, hb.body.code]).toEqual([401, "SIGNATURE_LEGACY"]);
    expect(off.proc.output()).not.toContain("legacy v1 signatures accepted");
  });

  test("a v1 header does not make a client write node-signed (ACLs apply)", async () => {
    const r = await call(off.url, "PUT", "/v1/kv/legacy-off", undefined, "1", { [SIGNATURE_HEADER]: signV1(off.secret, "/v1/kv/legacy-off", "1", { method: "PUT" }) });
    expect(r.status).toBe(403);
  });
});

/** A node-forwarded PUT under a Host name the node does not list (the browser guard's exemption). */
const forwardedPut = (n: Node, path: string, body: string) =>
  rawRequest(Number(new URL(n.url).port), head("PUT", path, {
    Host: "leader.internal:7700", "Content-Length": Buffer.byteLength(body), "Content-Type": "application/octet-stream",
    [SIGNATURE_HEADER]: signV1(n.secret, path, body, { method: "PUT" }),
  }), body);

test('browser guard: a v1-signed forwarded request is exempt under "accept", not under "off"', async () => {
  expect((await forwardedPut(off, "/v1/kv/guard-off", "x")).status).toBe(421);
  expect((await forwardedPut(accept, "/v1/kv/guard-accept", "x")).status).toBe(200);
  expect((await call(accept.url, "GET", "/v1/kv/guard-accept?raw", accept.management)).body).toBe("x");
});

describe('legacy_signatures = "accept"', () => {
  test("a good v1 header is accepted on peer routes, the Raft fast path, and as a node signature", async () => {
    expect((await post(accept.url, RPC, "{}", signV1(accept.secret, RPC, "{}"))).status).toBe(200);
    expect((await post(accept.url, RAFT, raftBody, signV1(accept.secret, RAFT, raftBody))).status).toBe(204);
    const kv = await call(accept.url, "PUT", "/v1/kv/legacy-accept", undefined, "1", { [SIGNATURE_HEADER]: signV1(accept.secret, "/v1/kv/legacy-accept", "1", { method: "PUT" }) });
    expect(kv.status).toBe(200);
  });

  test("v1 outside ±30 s is refused (not the previous release's 5 minutes); ±29 s is accepted", async () => {
    for (const offset of [31_000, -31_000, 4 * 60_000]) {
      const r = await post(accept.url, RPC, "{}", signV1(accept.secret, RPC, "{}", { at: Date.now() + offset }));
      expect([offset, r.status, r.body.code]).toEqual([offset, 401, "SIGNATURE_STALE"]);
    }
    for (const offset of [29_000, -29_000]) {
      const r = await post(accept.url, RPC, "{}", signV1(accept.secret, RPC, "{}", { at: Date.now() + offset }));
      expect([offset, r.status]).toEqual([offset, 200]);
    }
  });

  test("a forged v1 MAC, another secret, another body or path: 401", async () => {
    const forged = await post(accept.url, RPC, "{}", `t=${Date.now()},sig=${"ab".repeat(32)}`);
    expect([forged.status, forged.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    const other = await post(accept.url, RPC, "{}", signV1("not-the-cluster-secret", RPC, "{}"));
    expect([other.status, other.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    const body = await post(accept.url, RPC, "{ }", signV1(accept.secret, RPC, "{}"));
    expect([body.status, body.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    const path = await post(accept.url, RPC + "?stale", "{}", signV1(accept.secret, RPC, "{}"));
    expect([path.status, path.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    const raft = await post(accept.url, RAFT, raftBody, `t=${Date.now()},sig=${"cd".repeat(32)}`);
    expect([raft.status, raft.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
  });

  test("v2 keeps its replay protection; the node warns that v1 has none", async () => {
    const header = sign({ secret: accept.secret, path: RPC, body: "{}", to: new URL(accept.url).host });
    expect((await post(accept.url, RPC, "{}", header)).status).toBe(200);
    const replay = await post(accept.url, RPC, "{}", header);
    expect([replay.status, replay.body.code]).toEqual([401, "SIGNATURE_REPLAYED"]);
    expect(accept.proc.output()).toContain("legacy v1 signatures accepted: replay protection is off until cluster.legacy_signatures = off");
  });
});
