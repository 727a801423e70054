// Security issue 13, classes "Signed RPC", "Pre-auth amplification" and
// "Audit", against real processes: what an attacker on the network sees.
//
// - Signed RPC: a captured request replayed, a timestamp 31 s off either
//   way, a signature moved to another node id, method or query: all 401; 29 s
//   off is accepted (the ±30 s window), and the node logs the skew.
// - Pre-auth amplification: 200 MB chunked uploads (no Content-Length) to
//   peer routes with no, a malformed or a forged signature are answered
//   before the body is read; the node's RSS stays within a few MB.
// - Audit: refused writes (401 signature, 403 ACL, 429 rate limit) are
//   recorded with the matched route pattern and the concrete path;
//   allocation logs are passed between nodes over TLS when [tls] is on, and
//   a node that does not answer is a 502, not a failed exec plugin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { devSecretOf, eventually, freePort, getJson, killAll, sleep, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { chunkedUpload, post, rssBytes, sign, SIGNATURE_HEADER, withField } from "./helpers-rpc.ts";
import { MAX_SKEW_MS, NonceMemory, signRequest, verifySignature } from "../../core/http/rpc-signature.ts";

afterAll(() => killAll());

// A harmless peer RPC: any leader-role node answers it with the intentions.
const RPC = "/v1/cluster/acl/intentions";

let n: AclNode;
let secret: string;
/** The node's authority, as a sender calling n.url signs it (to=). */
const self = () => new URL(n.url).host;

beforeAll(async () => {
  // ACLs and audit on; a token rate limit low enough to trip on purpose.
  n = await startAclNode("\n[http]\nrate_limit_per_token = 5\nrate_limit_burst = 5\n");
  secret = devSecretOf(n.proc.dataDir);
}, 60_000);

describe("signed RPC", () => {
  test("a correctly signed request is accepted once; the same request replayed is refused", async () => {
    const header = sign({ to: self(), secret, path: RPC, body: "{}" });
    const first = await post(n.url, RPC, "{}", header);
    expect(first.status).toBe(200);
    const replay = await post(n.url, RPC, "{}", header);
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ code: "SIGNATURE_REPLAYED" });
    // A replay on a non-peer route is not trusted as a node's either: ACLs apply (403).
    const kv = sign({ to: self(), secret, method: "PUT", path: "/v1/kv/replayed", body: "1" });
    expect((await call(n.url, "PUT", "/v1/kv/replayed", undefined, "1", { [SIGNATURE_HEADER]: kv })).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/replayed", undefined, "1", { [SIGNATURE_HEADER]: kv })).status).toBe(403);
  });

  test("clock skew: ±31 s refused, ±29 s accepted; the node logs the skew", async () => {
    for (const offset of [31_000, -31_000]) {
      const r = await post(n.url, RPC, "{}", sign({ to: self(), secret, path: RPC, body: "{}", at: Date.now() + offset }));
      expect([offset, r.status, r.body.code]).toEqual([offset, 401, "SIGNATURE_STALE"]);
      // The skew is named (31 s less the request's transit time).
      expect(r.body.error).toMatch(offset > 0 ? /^signature time is 3\d\.\d s from this node's clock/ : /^signature time is -3\d\.\d s from/);
    }
    for (const offset of [29_000, -29_000]) {
      const r = await post(n.url, RPC, "{}", sign({ to: self(), secret, path: RPC, body: "{}", at: Date.now() + offset }));
      expect([offset, r.status]).toEqual([offset, 200]);
    }
    await eventually(() => n.proc.output().includes("clock skew beyond the allowed window"), 5_000);
    expect(n.proc.output()).toMatch(/"skewSeconds":3\d/);
  });

  test("a signature is bound to the sending node, the method, the query and the body", async () => {
    const good = sign({ to: self(), secret, node: "node-a", path: RPC, body: "{}" });
    // Another node id in the header, same MAC.
    const moved = await post(n.url, RPC, "{}", withField(good, "node", "node-b"));
    expect([moved.status, moved.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    // Signed for GET, sent as POST.
    const method = await post(n.url, RPC, "{}", sign({ to: self(), secret, method: "GET", path: RPC, body: "{}" }));
    expect([method.status, method.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    // Signed with a query, sent without it; and the other way round.
    const q1 = await post(n.url, RPC, "{}", sign({ to: self(), secret, path: RPC + "?stale", body: "{}" }));
    expect([q1.status, q1.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    const q2 = await post(n.url, RPC + "?stale", "{}", sign({ to: self(), secret, path: RPC, body: "{}" }));
    expect([q2.status, q2.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    // Another body than the signed one.
    const body = await post(n.url, RPC, "{ }", sign({ to: self(), secret, path: RPC, body: "{}" }));
    expect([body.status, body.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    // The untouched header still works (none of the refusals spent its nonce).
    expect((await post(n.url, RPC, "{}", good)).status).toBe(200);
  });
});

describe("replay memory (pure)", () => {
  test("bounded: full means refused (fail closed), and room comes back as nonces leave the window", () => {
    const nonces = new NonceMemory(3);
    const key = { secret: "unit-secret-0123456789", node: "n1" };
    const t0 = 1_000_000;
    const receiver = { host: "10.0.0.1:7700", isOurs: (a: string) => a === "10.0.0.1:7700" };
    const send = (now: number) => verifySignature(key.secret, signRequest(key, "POST", "/x", "{}", { now, to: receiver.host }), "POST", "/x", "{}", nonces, now, receiver);
    expect([send(t0).ok, send(t0).ok, send(t0).ok]).toEqual([true, true, true]);
    const full = send(t0);
    expect(full.ok ? "accepted" : full.code).toBe("REPLAY_MEMORY_FULL");
    expect(nonces.size).toBe(3);
    // Once their time has left the window (swept by whole seconds), the remembered nonces go and new requests are accepted.
    expect(send(t0 + MAX_SKEW_MS + 1000).ok).toBe(true);
    expect(nonces.size).toBe(1);
  });
});

describe("pre-auth amplification", () => {
  const MB = 1024 * 1024;
  const cases: [string, string, (s: string) => Record<string, string>][] = [
    ["no signature", "/v1/raft/message", () => ({})],
    ["a malformed signature", "/v1/cluster/join", () => ({ [SIGNATURE_HEADER]: "t=1,sig=00" })],
    ["a stale signature", "/v1/raft/message", (s) => ({ [SIGNATURE_HEADER]: sign({ to: self(), secret: s, path: "/v1/raft/message", at: Date.now() - 60_000 }) })],
    ["a forged signature (wrong secret)", "/v1/raft/message", () => ({ [SIGNATURE_HEADER]: sign({ to: self(), secret: "not-the-cluster-secret-0123", path: "/v1/raft/message" }) })],
    ["a forged signature (wrong secret)", "/v1/cluster/heartbeat", () => ({ [SIGNATURE_HEADER]: sign({ to: self(), secret: "not-the-cluster-secret-0123", path: "/v1/cluster/heartbeat" }) })],
    // Someone who captured a genuine header (no TLS) sends it with another, huge body: read no further than the signed 2 bytes.
    ["a captured genuine header (signed for a 2-byte body)", "/v1/raft/message", (s) => ({ [SIGNATURE_HEADER]: sign({ to: self(), secret: s, path: "/v1/raft/message", body: "{}" }) })],
    ["a captured genuine header (signed for a 2-byte body)", RPC, (s) => ({ [SIGNATURE_HEADER]: sign({ to: self(), secret: s, path: RPC, body: "{}" }) })],
  ];
  for (const [what, path, headers] of cases) {
    test(`200 MB chunked to ${path} with ${what}: 401 before the body is read, RSS flat`, async () => {
      const pid = n.proc.child.pid!;
      await sleep(200);
      const before = rssBytes(pid);
      const r = await chunkedUpload(n.proc.port, path, headers(secret), 200 * MB, pid);
      expect(r.status).toBe(401);
      // The answer came long before the upload's end, and the node held nothing. A forged MAC is only known
      // once the body is hashed, which stops at raft.max_message_bytes (64 MiB): that much, plus what the
      // socket buffers took (tens of MB on loopback), may be sent first. A header refused by itself is
      // answered while the upload has barely started.
      const hashesBody = what.startsWith("a forged signature");
      expect(r.sentBeforeAnswer).toBeLessThan(hashesBody ? 64 * MB + 64 * MB : 100 * MB);
      expect(r.peakRss - before).toBeLessThan(8 * MB);
      expect((await getJson(n.url + "/v1/healthz")).status).toBe(200);
    }, 60_000);
  }

  test("any other route: 200 MB chunked, with or without a forged node signature, is refused at http.max_body_bytes", async () => {
    const pid = n.proc.child.pid!;
    const forged = { [SIGNATURE_HEADER]: sign({ to: self(), secret: "not-the-cluster-secret-0123", method: "PUT", path: "/v1/kv/big" }) };
    for (const headers of [{}, forged] as Record<string, string>[]) {
      await sleep(200);
      const before = rssBytes(pid);
      const r = await chunkedUpload(n.proc.port, "/v1/kv/big", headers, 200 * MB, pid, "PUT");
      expect(r.status).toBe(413);
      expect(r.sentBeforeAnswer).toBeLessThan(100 * MB);
      expect(r.peakRss - before).toBeLessThan(8 * MB);
    }
  }, 60_000);

  test("a signed length over the route's cap is refused (413) before the body is read", async () => {
    const pid = n.proc.child.pid!;
    const before = rssBytes(pid);
    // Signed by the secret's holder for a 200 MB body: over http.max_body_bytes (1 MiB) for /v1/cluster/*, over raft.max_message_bytes (64 MiB) for /v1/raft/.
    for (const path of [RPC, "/v1/raft/message"]) {
      const r = await chunkedUpload(n.proc.port, path, { [SIGNATURE_HEADER]: sign({ to: self(), secret, path, body: "", length: 200 * MB }) }, 200 * MB, pid);
      expect([path, r.status]).toEqual([path, 413]);
      expect(r.sentBeforeAnswer).toBeLessThan(100 * MB);
    }
    expect(rssBytes(pid) - before).toBeLessThan(8 * MB);
  }, 60_000);
});

describe("audit", () => {
  async function audited(match: (r: any) => boolean): Promise<any> {
    return eventually(async () => {
      const r = await call(n.url, "GET", "/v1/audit?limit=1000", n.management);
      return r.status === 200 && (r.body as any[]).find(match);
    }, 10_000, 300);
  }

  test("refused writes are recorded with the route pattern and the path: 401 signature, 403 ACL, 429 rate limit", async () => {
    // 401: a peer RPC with a bad signature, through the route table and through the Raft fast path.
    expect((await post(n.url, RPC, "{}", "garbage")).status).toBe(401);
    const raftForged = sign({ to: self(), secret: "not-the-cluster-secret-0123", path: "/v1/raft/message", body: "{}" });
    expect((await post(n.url, "/v1/raft/message", "{}", raftForged)).status).toBe(401);
    // A genuine header with another body: the heartbeat fast path reads it, then hands it to the route table.
    const hb = await post(n.url, "/v1/cluster/heartbeat", "{ }", sign({ to: self(), secret, path: "/v1/cluster/heartbeat", body: "{}" }));
    expect([hb.status, hb.body.code]).toEqual([401, "SIGNATURE_INVALID"]);
    // 403: a token without kv write.
    const t = await tokenWith(n, "reader-only", 'key_prefix "" { policy = "read" }');
    expect((await call(n.url, "PUT", "/v1/kv/refused-key", t.secret, "1")).status).toBe(403);
    // 429: the same token past its burst.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(n.url, "PUT", `/v1/kv/limited-${i}`, t.secret, "1")).status);
    expect(statuses).toContain(429);

    const sig = await audited((r) => r.status === 401 && r.path === RPC);
    expect(sig).toMatchObject({ method: "POST", route: `POST ${RPC}`, accessor: "" });
    expect(sig.remote).toBe("127.0.0.1");
    expect(await audited((r) => r.status === 401 && r.path === "/v1/raft/message")).toMatchObject({ route: "POST /v1/raft/message" });
    expect(await audited((r) => r.status === 401 && r.path === "/v1/cluster/heartbeat")).toMatchObject({ route: "POST /v1/cluster/heartbeat", remote: "127.0.0.1" });
    expect(await audited((r) => r.status === 403 && r.path === "/v1/kv/refused-key")).toMatchObject({ route: "PUT /v1/kv/{key}", accessor: t.accessor });
    const limited = await audited((r) => r.status === 429);
    expect(limited.route).toBe("PUT /v1/kv/{key}");
    expect(limited.path).toMatch(/^\/v1\/kv\/limited-\d+$/);
    // Accepted peer RPC (the cluster's own traffic) stays out of the log.
    expect((await post(n.url, RPC, "{}", sign({ to: self(), secret, path: RPC, body: "{}" }))).status).toBe(200);
    await sleep(300);
    const all = (await call(n.url, "GET", "/v1/audit?limit=1000", n.management)).body as any[];
    expect(all.filter((r) => r.path === RPC && r.status === 200)).toEqual([]);
  }, 60_000);
});

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/security/rpc.test.ts: TLS log proxying skipped: `openssl` is not installed");

/** A CA and a leaf certificate for 127.0.0.1 (server and client use). */
function makeCerts(): { dir: string; ca: string } {
  const dir = tempDir("corral-sec-tls-");
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=corral test CA");
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  run("req", ...ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=node");
  run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "node.pem", "-days", "2", "-extfile", "leaf.ext");
  return { dir, ca: readFileSync(join(dir, "ca.pem"), "utf8") };
}

describe.skipIf(!HAVE_OPENSSL)("allocation logs over TLS", () => {
  test("a leader passes GET /v1/alloc/{id}/logs on to the agent running it over https", async () => {
    const { dir, ca } = makeCerts();
    const tls = `[tls]\ncert_file = "${dir}/node.pem"\nkey_file = "${dir}/node.key"\nca_file = "${dir}/ca.pem"\n`;
    const s = "sec-rpc-tls-secret-0123456789";
    const plugins = `[plugins]\nenabled = ["probe", "exec"]\nwatch = false\n`;
    const lport = await freePort();
    const leader: CorralProcess = await startCorral({ role: "leader", port: lport, waitReady: false, config: `[cluster]\nsecret = "${s}"\n\n${plugins}\n${tls}` });
    const https = (p: CorralProcess) => `https://127.0.0.1:${p.port}`;
    const get = (url: string, init: RequestInit = {}) => fetch(url, { ...init, tls: { ca }, signal: AbortSignal.timeout(5000) } as RequestInit);
    await eventually(async () => (await get(https(leader) + "/v1/healthz")).ok, 20_000);
    const agent = await startCorral({
      role: "agent", waitReady: false,
      config: `[node]\nname = "tls-logs"\n\n[cluster]\nsecret = "${s}"\n\n[agent]\nleaders = ["127.0.0.1:${lport}"]\nheartbeat = "300ms"\n\n${plugins}\n[plugins.exec]\nkill_timeout = "1s"\n\n${tls}`,
    });
    await eventually(async () => ((await (await get(https(leader) + "/v1/nodes")).json()) as any[]).some((x) => x.name === "tls-logs" && x.status === "ready"), 20_000);
    const job = {
      id: "tls-logs", groups: [{
        name: "g", count: 1,
        tasks: [{ name: "t", command: process.execPath, args: ["-e", "console.log('hello over tls'); setInterval(() => {}, 1e6)"], resources: { cpu: 100, memory: 64 } }],
      }],
    };
    const reg = await get(https(leader) + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } });
    expect(reg.status).toBe(200);
    const alloc = await eventually(async () => {
      const list = (await (await get(https(leader) + "/v1/job/tls-logs/allocations")).json()) as any[];
      return list.find((a) => a.clientStatus === "running");
    }, 30_000);
    // The leader does not run it: it passes the request on to the agent, over https with the cluster's CA.
    const logs = await eventually(async () => {
      const r = await get(`${https(leader)}/v1/alloc/${alloc.id}/logs`);
      const text = await r.text();
      return r.status === 200 && text.includes("hello over tls") ? text : undefined;
    }, 15_000, 300).catch(async () => {
      const r = await get(`${https(leader)}/v1/alloc/${alloc.id}/logs`);
      throw new Error(`logs through the leader: ${r.status} ${await r.text()}`);
    });
    expect(logs).toContain("hello over tls");
    await get(https(leader) + "/v1/job/tls-logs", { method: "DELETE" });
    // Stopping the agent no longer stops its tasks: wait until the job stop has.
    await eventually(async () => {
      const list = (await (await get(https(leader) + "/v1/job/tls-logs/allocations")).json()) as any[];
      return list.every((a) => a.clientStatus === "complete");
    }, 30_000, 200);
    await agent.kill("SIGTERM");
    // The node that ran it is gone: a clear 502, and the leader's exec plugin stays up (it used to fail and unmount its routes).
    for (let i = 0; i < 2; i++) {
      const r = await get(`${https(leader)}/v1/alloc/${alloc.id}/logs`);
      expect([r.status, ((await r.json()) as { code: string }).code]).toEqual([502, "NODE_UNREACHABLE"]);
    }
    await leader.kill("SIGTERM");
  }, 90_000);
});
