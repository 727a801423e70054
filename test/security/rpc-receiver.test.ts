// Security issue 13, "Signed RPC": a signature is good on the node it names.
//
// Each node remembers only the nonces it accepted itself, so before the
// receiver was bound into the MAC a request captured on its way to node A
// could be replayed to node B within the ±30 s window: a propose replayed to
// another leader, a client write forwarded by a node replayed to another. Two
// real nodes sharing cluster.secret (ACLs on, default deny): a request
// signed for A and replayed to B, with B's Host or with A's Host forged, is
// refused 401 SIGNATURE_WRONG_RECEIVER (peer routes) or treated as an
// anonymous client (forwarded requests: 403); A itself still accepts it, and
// a node reached by a name listed in http.allowed_hosts or its advertised
// port accepts signatures for that name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, killAll } from "../helpers/proc.ts";
import { call, startAclNode, type AclNode } from "../acl/helpers.ts";
import { post, sign, SIGNATURE_HEADER } from "./helpers-rpc.ts";
import { rawRequest, head } from "./helpers-browser.ts";
import { ownAuthorities, wrongReceiver } from "../../core/http/rpc-receiver.ts";
import { proxyRequest } from "../../core/http/proxy.ts";
import { parseSignatureHeader } from "../../core/http/rpc-signature.ts";

afterAll(() => killAll());

const SECRET = "rpc-receiver-secret-0123456789abcdef";
const PROPOSE = "/v1/cluster/propose";

let a: AclNode;
let b: AclNode;
let advertisedPort: number;
const authority = (n: AclNode) => new URL(n.url).host;
const kvSet = (key: string) => JSON.stringify({ type: "KVSet", v: 1, at: Date.now(), key, value: "" });

beforeAll(async () => {
  advertisedPort = await freePort();
  const shared = `\n[cluster]\nsecret = "${SECRET}"\n`;
  // B is also reached by a DNS alias and through a port forward (NAT): both are its names.
  [a, b] = await Promise.all([
    startAclNode(shared),
    startAclNode(`${shared}\n[node]\nadvertise = "127.0.0.1:${advertisedPort}"\n\n[http]\nallowed_hosts = ["corral-b.internal"]\n`),
  ]);
}, 90_000);

async function kvExists(n: AclNode, key: string): Promise<boolean> {
  const r = await call(n.url, "GET", `/v1/kv/${key}`, n.management);
  return r.status === 200;
}

describe("a signature names its receiver", () => {
  test("a propose signed for A, replayed to B (B's Host): 401 SIGNATURE_WRONG_RECEIVER, nothing written on B; A accepts it", async () => {
    const body = kvSet("replayed-propose");
    const header = sign({ secret: SECRET, path: PROPOSE, body, to: authority(a) });
    // Replayed to B first: B never saw this nonce, so only the receiver binding stops it.
    const onB = await post(b.url, PROPOSE, body, header);
    expect([onB.status, onB.body.code]).toEqual([401, "SIGNATURE_WRONG_RECEIVER"]);
    expect(onB.body.error).toContain(`signed for ${authority(a)}`);
    expect(await kvExists(b, "replayed-propose")).toBe(false);
    // The genuine request on the node it was signed for.
    const onA = await post(a.url, PROPOSE, body, header);
    expect(onA.status).toBe(200);
    expect(await kvExists(a, "replayed-propose")).toBe(true);
  });

  test("the Host forged to A while sending to B: 401 (A's name on B's port is not B)", async () => {
    const body = kvSet("forged-host");
    const header = sign({ secret: SECRET, path: PROPOSE, body, to: authority(a) });
    const r = await rawRequest(b.proc.port, head("POST", PROPOSE, {
      Host: authority(a), "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), [SIGNATURE_HEADER]: header,
    }), body);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).code).toBe("SIGNATURE_WRONG_RECEIVER");
    expect(await kvExists(b, "forged-host")).toBe(false);
  });

  test("signed for B with the Host of another name (signed to= differs from Host): 401", async () => {
    const body = kvSet("host-mismatch");
    const header = sign({ secret: SECRET, path: PROPOSE, body, to: authority(b) });
    const r = await rawRequest(b.proc.port, head("POST", PROPOSE, {
      Host: `localhost:${b.proc.port}`, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), [SIGNATURE_HEADER]: header,
    }), body);
    expect([r.status, JSON.parse(r.body).code]).toEqual([401, "SIGNATURE_WRONG_RECEIVER"]);
  });

  test("a client write forwarded to A (node-signed), replayed to B: an anonymous request there (403), the key absent", async () => {
    const header = sign({ secret: SECRET, method: "PUT", path: "/v1/kv/forwarded-write", body: "1", to: authority(a) });
    const onB = await call(b.url, "PUT", "/v1/kv/forwarded-write", undefined, "1", { [SIGNATURE_HEADER]: header });
    expect(onB.status).toBe(403);
    expect(await kvExists(b, "forwarded-write")).toBe(false);
    const onA = await call(a.url, "PUT", "/v1/kv/forwarded-write", undefined, "1", { [SIGNATURE_HEADER]: header });
    expect(onA.status).toBe(200);
  });

  test("B accepts signatures for its other names: an http.allowed_hosts alias, its advertised port, localhost", async () => {
    for (const [what, to] of [
      ["alias", `corral-b.internal:${b.proc.port}`],
      ["advertised port", `127.0.0.1:${advertisedPort}`],
      ["localhost", `localhost:${b.proc.port}`],
    ] as const) {
      const body = kvSet(`name-${what.replace(/ /g, "-")}`);
      const r = await rawRequest(b.proc.port, head("POST", PROPOSE, {
        Host: to, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), [SIGNATURE_HEADER]: sign({ secret: SECRET, path: PROPOSE, body, to }),
      }), body);
      expect([what, r.status]).toEqual([what, 200]);
    }
    // A name B does not list, even with B's port and a matching Host: refused, the message says where to list it.
    const body = kvSet("unlisted");
    const to = `corral-a.internal:${b.proc.port}`;
    const r = await rawRequest(b.proc.port, head("POST", PROPOSE, {
      Host: to, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), [SIGNATURE_HEADER]: sign({ secret: SECRET, path: PROPOSE, body, to }),
    }), body);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: "SIGNATURE_WRONG_RECEIVER", error: expect.stringContaining("http.allowed_hosts") });
  });

  test("the to= field is in the MAC: rewriting it to B's authority is a forgery (SIGNATURE_INVALID)", async () => {
    const body = kvSet("rewritten");
    const header = sign({ secret: SECRET, path: PROPOSE, body, to: authority(a) }).replace(`to=${authority(a)}`, `to=${authority(b)}`);
    const r = await post(b.url, PROPOSE, body, header);
    expect([r.status, r.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
  });
});

describe("passing a request on", () => {
  test("a node never passes on a signature it was given: it signs for the node it calls, or sends none", async () => {
    const seen: (string | null)[] = [];
    const upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => (seen.push(r.headers.get(SIGNATURE_HEADER)), new Response("ok")) });
    try {
      const given = sign({ secret: SECRET, method: "GET", path: "/v1/alloc/x/logs", to: authority(a) });
      const req = () => new Request(`${a.url}/v1/alloc/x/logs`, { headers: { [SIGNATURE_HEADER]: given } });
      const base = `http://127.0.0.1:${upstream.port}`;
      expect((await proxyRequest(base, req())).status).toBe(200);
      expect(seen[0]).toBeNull();
      expect((await proxyRequest(base, req(), undefined, { secret: SECRET, node: "follower" })).status).toBe(200);
      expect(parseSignatureHeader(seen[1])).toMatchObject({ node: "follower", to: `127.0.0.1:${upstream.port}` });
    } finally {
      upstream.stop(true);
    }
  });
});

describe("receiver names (pure)", () => {
  const isOurs = ownAuthorities({
    isOwnName: (h) => ["node-1.example", "10.0.0.5", "::1", "localhost"].includes(h),
    ports: () => [7700, 443],
  });

  test("name and port must both be this node's; IPv6 in brackets; no port means the scheme's default", () => {
    expect(isOurs("node-1.example:7700")).toBe(true);
    expect(isOurs("NODE-1.example.:7700")).toBe(true);
    expect(isOurs("[::1]:7700")).toBe(true);
    expect(isOurs("node-1.example")).toBe(true); // https default port 443, one of ours
    expect(isOurs("node-1.example:7701")).toBe(false);
    expect(isOurs("node-2.example:7700")).toBe(false);
    expect(isOurs("[::2]:7700")).toBe(false);
    expect(isOurs("10.0.0.5:1@evil:7700")).toBe(false);
  });

  test("the Host must be the signed authority (case and a trailing dot aside)", () => {
    const r = (host: string | null) => wrongReceiver("node-1.example:7700", { host, isOurs });
    expect(r("node-1.example:7700")).toBeUndefined();
    expect(r("Node-1.Example.:7700")).toBeUndefined();
    expect(r("10.0.0.5:7700")).toContain("not for the Host");
    expect(r(null)).toContain("not for the Host");
    expect(wrongReceiver("node-2.example:7700", { host: "node-2.example:7700", isOurs })).toContain("http.allowed_hosts");
  });
});
