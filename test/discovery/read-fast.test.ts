// The fast path of the plain blocking catalog and health reads (issue 18
// point 3; plugins/discovery/read-fast.ts, core/http/cached-read-fast.ts):
// which requests it takes (the node's count of reads it answered says so),
// that what it answers is the route's answer, and that it never answers what
// the route would refuse or cut: with ACLs on it takes nothing (no token, a
// narrow token, a node-signed request: all answered by the route, as
// before); a forged or replayed node signature goes to the route; an
// unsigned blocking read takes the same held-request slots as through the
// route. Real dev nodes; fast-path-corpus.test.ts compares every answer of
// both paths byte for byte.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/rpc-signature.ts";

const SECRET = "read-fast-test-secret-0123456789abcdef";
let p: CorralProcess;
let acl: AclNode;

const register = async (url: string, node: string, id: string, name: string, token?: string) => {
  const r = await call(url, "PUT", "/v1/catalog/register", token, { Node: node, Address: "10.0.0.1", Service: { ID: id, Service: name, Port: 80 } });
  expect(r.status).toBe(200);
};

beforeAll(async () => {
  [p, acl] = await Promise.all([
    startCorral({ role: "dev", config: `[cluster]\nsecret = "${SECRET}"\n[http]\nmax_blocking_per_address = 3\n` }),
    startAclNode(`[cluster]\nsecret = "${SECRET}"\n`),
  ]);
  await register(p.url, "n1", "web-1", "web");
  await register(acl.url, "n1", "web-1", "web", acl.management);
  await register(acl.url, "n2", "db-1", "db", acl.management);
}, 60_000);
afterAll(killAll);

/** The node's count of reads answered on the fast path. */
async function fastReads(url: string, token?: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: token ? { "X-Consul-Token": token } : {} })).text();
  const m = /^corral_discovery_fast_reads (\d+)/m.exec(text);
  // A missing metric must fail the test (NaN would equal NaN + n).
  if (!m) throw new Error("no corral_discovery_fast_reads in /metrics");
  return Number(m[1]);
}

async function get(url: string, path: string, headers: Record<string, string> = {}, method = "GET") {
  const res = await fetch(url + path, { method, headers });
  return { status: res.status, index: res.headers.get("x-consul-index"), filtered: res.headers.get("x-consul-results-filtered-by-acls"), body: await res.text() };
}

const signed = (path: string, secret = SECRET, port = p.port) => ({ [SIGNATURE_HEADER]: signRequest({ secret, node: "agent-1" }, "GET", path, "", { to: `127.0.0.1:${port}` }) });

describe("which requests the fast path takes (ACLs off)", () => {
  test("the plain reads: taken, with the route's answer", async () => {
    const before = await fastReads(p.url);
    const h = await get(p.url, "/v1/health/service/web");
    const c = await get(p.url, "/v1/catalog/services?stale");
    expect(await fastReads(p.url)).toBe(before + 2);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["web-1"]);
    expect(JSON.parse(c.body)).toEqual({ web: [] });
  });

  test("anything else goes to the route: a duplicate or unknown parameter, a token, a filter, a tag, passing, near, HEAD, an encoded name", async () => {
    const before = await fastReads(p.url);
    const odd = [
      "/v1/health/service/web?index=1&index=2", "/v1/health/service/web?dc=dc1&dc=dc1", "/v1/health/service/web?bogus",
      "/v1/health/service/web?token=x", "/v1/health/service/web?filter=" + encodeURIComponent('Service.ID == "web-1"'),
      "/v1/health/service/web?tag=a", "/v1/health/service/web?passing", "/v1/health/service/web?near=_agent",
      "/v1/health/service/w%65b", "/v1/catalog/services?index=1&index=1", "/v1/catalog/services?cached", "/v1/catalog/services?pretty",
    ];
    for (const path of odd) expect((await get(p.url, path)).status).toBeLessThan(500);
    expect((await get(p.url, "/v1/health/service/web", {}, "HEAD")).status).toBe(200);
    expect(await fastReads(p.url)).toBe(before);
  });

  test("a node-signed read is taken; a forged or replayed signature goes to the route (a client's request there)", async () => {
    const path = "/v1/health/service/web";
    const before = await fastReads(p.url);
    const good = signed(path);
    expect((await get(p.url, path, good)).status).toBe(200);
    expect(await fastReads(p.url)).toBe(before + 1);
    // The same signature again: its nonce is spent, so neither path counts it as signed.
    expect((await get(p.url, path, good)).status).toBe(200);
    expect((await get(p.url, path, signed(path, "another-secret-0123456789abcdef"))).status).toBe(200);
    expect(await fastReads(p.url)).toBe(before + 1);
  });

  test("held blocking reads: woken by a change on the fast path, within the same per-address slots as the route", async () => {
    const first = await get(p.url, "/v1/health/service/web");
    const path = `/v1/health/service/web?index=${first.index}&wait=20s`;
    const before = await fastReads(p.url);
    // http.max_blocking_per_address = 3: the fourth unsigned one from this address is refused, as by the route.
    const held = [0, 1, 2].map(() => get(p.url, path));
    await Bun.sleep(500);
    const refused = await get(p.url, path);
    expect(refused.status).toBe(429);
    // A node-signed read takes no slot (as through the held-limit middleware).
    const agent = get(p.url, path, signed(path));
    await Bun.sleep(300);
    await register(p.url, "n2", "web-2", "web");
    const woke = await Promise.all([...held, agent]);
    for (const w of woke) {
      expect(w.status).toBe(200);
      expect(Number(w.index)).toBeGreaterThan(Number(first.index));
      expect(w.body).toBe(woke[0]!.body);
      expect(JSON.parse(w.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["web-1", "web-2"]);
    }
    expect(await fastReads(p.url)).toBe(before + 4);
  }, 60_000);
});

describe("with ACLs on the route answers every read (no token, a narrow token, a node's signature)", () => {
  test("no token: refused as before; a narrow token: its cut answer; nothing taken by the fast path", async () => {
    const before = await fastReads(acl.url, acl.management);
    expect(before).toBe(0);
    const dbOnly = (await tokenWith(acl, "db-only", 'service "db" { policy = "read" }\nnode_prefix "" { policy = "read" }')).secret;
    const none = await get(acl.url, "/v1/health/service/web");
    expect(none.status === 403 || JSON.parse(none.body).length === 0).toBe(true);
    const noneList = await get(acl.url, "/v1/catalog/services");
    expect(noneList.status === 403 || Object.keys(JSON.parse(noneList.body)).length === 0).toBe(true);
    const narrow = await get(acl.url, "/v1/catalog/services", { "X-Consul-Token": dbOnly });
    expect(JSON.parse(narrow.body)).toEqual({ db: [] });
    expect(narrow.filtered).toBe("true");
    const narrowWeb = await get(acl.url, "/v1/health/service/web", { "X-Consul-Token": dbOnly });
    expect(narrowWeb.status === 403 || JSON.parse(narrowWeb.body).length === 0).toBe(true);
    // The same token from the query and as a bearer: the same cut answers.
    expect(JSON.parse((await get(acl.url, `/v1/catalog/services?token=${dbOnly}`)).body)).toEqual({ db: [] });
    expect(JSON.parse((await get(acl.url, "/v1/catalog/services", { Authorization: `Bearer ${dbOnly}` })).body)).toEqual({ db: [] });
    const bearerWeb = await get(acl.url, "/v1/health/service/web?index=1&wait=1s", { Authorization: `Bearer ${dbOnly}` });
    expect(bearerWeb.status === 403 || JSON.parse(bearerWeb.body).length === 0).toBe(true);
    // A node's signed read: the route's (which trusts the node that authorized it).
    const agent = await get(acl.url, "/v1/health/service/web", signed("/v1/health/service/web", SECRET, acl.proc.port));
    expect(JSON.parse(agent.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["web-1"]);
    expect(await fastReads(acl.url, acl.management)).toBe(0);
  });
});
