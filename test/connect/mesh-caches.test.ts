// The mesh's per-call caches must never outlive what they cache (docs/mesh.md,
// "Performance"): the source side keeps a client connection's last token and
// the service it speaks for (core/acl/calls.ts callerMemo), the destination
// side keeps its decision per (source, destination) (callAuthorizer). On a
// leader-role node both hold only until the next ACL or intention change,
// so on one keep-alive connection — where the token's answer is reused —
// the very next call after a change is decided afresh:
//   - the token deleted: no identity, no certificate, refused (default deny);
//   - the token's service identity changed to a service with no intention: refused;
//   - the intention turned to deny, then deleted: refused; allowed again: passes.
// A dev node with ACLs on (default deny) runs both sides (mesh_port = 0: it
// calls its own mesh listener over mTLS), as a user would see it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { killBackends, proxyPort, register, startBackend, waitPassing } from "../invoke/helpers.ts";
import { keepAliveClient, type KeepAliveClient } from "./keepalive-client.ts";

let n: AclNode;
let port = 0;
let m = "";

const intention = (action: "allow" | "deny") =>
  call(n.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: action });

beforeAll(async () => {
  n = await startAclNode("\n[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = 0\n");
  m = n.management;
  await register(n.proc, "files", await startBackend("files"), { token: m });
  await waitPassing(n.proc, "files", 1, 10_000, m);
  expect((await intention("allow")).status).toBe(200);
  port = await proxyPort(n.proc, m);
}, 60_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

/** A client whose first call passes (the mesh listener is up, web's leaf made): then the caches are warm. */
async function warmClient(token: string): Promise<KeepAliveClient> {
  const c = keepAliveClient(port);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await c.get("/echo", { host: "files", "x-consul-token": token });
    if (r.status === 200) {
      expect(r.body.headers["x-forwarded-client-cert"]).toMatch(/\/svc\/web$/);
      // And again on the same connection: this one is answered from the caches.
      expect((await c.get("/echo", { host: "files", "x-consul-token": token })).status).toBe(200);
      return c;
    }
    if (Date.now() > deadline) throw new Error(`no call passed: ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

describe("the mesh's caches follow ACL and intention changes at once", () => {
  test("a deleted token: the next call on the same connection is refused", async () => {
    const t = await tokenWith(n, "web-del", 'service_prefix "" { policy = "read" }', ["web"]);
    const c = await warmClient(t.secret);
    expect((await call(n.url, "DELETE", `/v1/acl/token/${t.accessor}`, m)).status).toBe(200);
    const r = await c.get("/echo", { host: "files", "x-consul-token": t.secret });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("INTENTION_DENIED");
    expect(r.body.reason).toContain("(no service identity)");
    expect(c.connections()).toBe(1);
    c.close();
  }, 60_000);

  test("a token's service identity changed: the next call presents the new one and is refused", async () => {
    const t = await tokenWith(n, "web-narrow", 'service_prefix "" { policy = "read" }', ["web"]);
    const c = await warmClient(t.secret);
    const u = await call(n.url, "PUT", `/v1/acl/token/${t.accessor}`, m, {
      Description: "narrowed", Policies: [{ Name: "web-narrow" }], ServiceIdentities: [{ ServiceName: "other" }],
    });
    expect(u.status).toBe(200);
    const r = await c.get("/echo", { host: "files", "x-consul-token": t.secret });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("INTENTION_DENIED");
    expect(r.body.reason).toContain("other => files");
    expect(c.connections()).toBe(1);
    c.close();
  }, 60_000);

  test("the intention turned to deny, deleted, allowed again: each decides the next call", async () => {
    const t = await tokenWith(n, "web-int", 'service_prefix "" { policy = "read" }', ["web"]);
    const c = await warmClient(t.secret);
    const get = () => c.get("/echo", { host: "files", "x-consul-token": t.secret });
    try {
      expect((await intention("deny")).status).toBe(200);
      let r = await get();
      expect(r.status).toBe(403);
      expect(r.body.reason).toBe("intention web => files (deny)");
      expect((await call(n.url, "DELETE", "/v1/connect/intentions/exact?source=web&destination=files", m)).status).toBe(200);
      r = await get();
      expect(r.status).toBe(403);
      expect(r.body.reason).toContain("default policy deny");
      expect((await intention("allow")).status).toBe(200);
      r = await get();
      expect(r.status).toBe(200);
      expect(r.body.headers["x-forwarded-client-cert"]).toMatch(/\/svc\/web$/);
      expect(c.connections()).toBe(1);
    } finally {
      await intention("allow");
      c.close();
    }
  }, 60_000);
});
