// On agents the mesh's caches last exactly as long as the agent's own ACL
// caches (docs/acl.md): token_ttl. A leader and two agents (ACLs on, default
// deny, token_ttl = 2s), a caller on agent A keeps one keep-alive connection
// to A's proxy listener, whose last token's answer A keeps
// (core/acl/calls.ts callerMemo); its instance is on agent B. After the
// token is deleted at the leader, the calls on that same connection are
// refused once the agent's cached grant is token_ttl old — the kept answer
// does not outlive it (it would if TokenResolver.holds ignored token_ttl).
// An intention turned to deny reaches B's decisions the same way.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { killAll, type CorralProcess } from "../helpers/proc.ts";
import { call } from "../acl/helpers.ts";
import { startMeshCluster } from "./mesh-cluster.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";
import { keepAliveClient, type Answer, type KeepAliveClient } from "./keepalive-client.ts";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (!HAVE_OPENSSL) console.warn("test/connect/mesh-caches-agent.test.ts: skipped: `openssl` is not installed (apt-get install openssl)");
const TTL_MS = 2000;

let leader: CorralProcess;
let a: CorralProcess;
let b: CorralProcess;
let m = "";
let portA = 0;

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  ({ leader, a, b, management: m } = await startMeshCluster({
    secret: "mesh-caches-secret-0123456789abcdef", names: ["cache-a", "cache-b"], heartbeat: "300ms", acl: `token_ttl = "${TTL_MS / 1000}s"\n`,
  }));
  await register(b, "files", await startBackend("files"), { token: m });
  await waitPassing(leader, "files", 1, 10_000, m);
  expect((await call(leader.url, "PUT", "/v1/acl/policy", m, { Name: "web-caller", Rules: 'service_prefix "" { policy = "read" }' })).status).toBe(200);
  expect((await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "allow" })).status).toBe(200);
  portA = await proxyPort(a, m);
}, 90_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

async function webToken(): Promise<{ secret: string; accessor: string }> {
  const t = await call(leader.url, "PUT", "/v1/acl/token", m, { Description: "web", Policies: [{ Name: "web-caller" }], ServiceIdentities: [{ ServiceName: "web" }] });
  expect(t.status).toBe(200);
  return { secret: t.body.SecretID, accessor: t.body.AccessorID };
}

/** A connection whose calls pass (twice: the second from the caches). */
async function warm(token: string): Promise<KeepAliveClient> {
  const c = keepAliveClient(portA);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await c.get("/echo", { host: "files", "x-consul-token": token });
    if (r.status === 200 && (await c.get("/echo", { host: "files", "x-consul-token": token })).status === 200) return c;
    if (Date.now() > deadline) throw new Error(`no call passed: ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Calls on the connection until one is refused; how long that took. */
async function untilRefused(c: KeepAliveClient, token: string, limitMs: number): Promise<{ r: Answer; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const r = await c.get("/echo", { host: "files", "x-consul-token": token });
    if (r.status !== 200) return { r, ms: Date.now() - t0 };
    if (Date.now() - t0 > limitMs) throw new Error(`still answered 200 after ${limitMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe.skipIf(!HAVE_OPENSSL)("the mesh's caches on agents last token_ttl, as the agents' ACL caches", () => {
  test("a token deleted at the leader: refused on the same connection once the agent's cached grant is token_ttl old", async () => {
    const t = await webToken();
    const c = await warm(t.secret);
    expect((await call(leader.url, "DELETE", `/v1/acl/token/${t.accessor}`, m)).status).toBe(200);
    const { r, ms } = await untilRefused(c, t.secret, 5 * TTL_MS);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("INTENTION_DENIED");
    expect(r.body.reason).toContain("(no service identity)");
    expect(ms).toBeLessThanOrEqual(TTL_MS + 3000); // token_ttl, and slack for a loaded machine
    expect(c.connections()).toBe(1);
    c.close();
  }, 90_000);

  test("an intention turned to deny: B refuses once its intentions are token_ttl old", async () => {
    const t = await webToken();
    const c = await warm(t.secret);
    try {
      expect((await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "deny" })).status).toBe(200);
      const { r, ms } = await untilRefused(c, t.secret, 5 * TTL_MS);
      expect(r.status).toBe(403);
      expect(r.body.reason).toBe("intention web => files (deny)");
      expect(ms).toBeLessThanOrEqual(TTL_MS + 3000); // token_ttl, and slack for a loaded machine
    } finally {
      await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "allow" });
      c.close();
    }
  }, 90_000);
});
