// Identical blocking queries share one evaluation and one serialization per
// index (plugins/discovery/http.ts cachedJsonRead), also for tokens whose
// rules cut the answer: requests whose tokens grant exactly the same share
// it, and two tokens that see different things never do. A real dev node
// with ACLs on (default deny); what is asserted is what the clients see,
// plus the node's own count of answers computed and served from the cache.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
/** Two tokens from two policies with the same rules (one grant), and one that reads another service. */
let webA: string;
let webB: string;
let dbOnly: string;

const WEB_RULES = 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }';

beforeAll(async () => {
  n = await startAclNode();
  webA = (await tokenWith(n, "web-a", WEB_RULES)).secret;
  // The same rules in another order, in another policy: the same grant.
  webB = (await tokenWith(n, "web-b", 'node_prefix "" { policy = "read" }\nservice "web" { policy = "read" }')).secret;
  dbOnly = (await tokenWith(n, "db-only", 'service "db" { policy = "read" }\nnode_prefix "" { policy = "read" }')).secret;
  for (const [node, id, name] of [["n1", "web-1", "web"], ["n2", "db-1", "db"]] as const) {
    const r = await call(n.url, "PUT", "/v1/catalog/register", n.management, { Node: node, Address: "10.0.0.1", Service: { ID: id, Service: name, Port: 80 } });
    expect(r.status).toBe(200);
  }
}, 60_000);
afterAll(() => killAll());

/** The node's count of catalog/health answers, computed and served from the cache. */
async function answers(): Promise<{ computed: number; cache: number }> {
  const text = await (await fetch(`${n.url}/metrics`, { headers: { "X-Consul-Token": n.management } })).text();
  const get = (source: string) => Number(new RegExp(`^corral_discovery_read_answers\\{source="${source}"\\} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { computed: get("computed"), cache: get("cache") };
}

async function read(path: string, token: string) {
  const res = await fetch(n.url + path, { headers: { "X-Consul-Token": token } });
  return { status: res.status, index: res.headers.get("x-consul-index"), filtered: res.headers.get("x-consul-results-filtered-by-acls"), body: await res.text() };
}

describe("answers shared between identical queries", () => {
  test("two tokens that see different things never share an answer; the same grant does, header included", async () => {
    // The web token asks first: its cut answer is in the cache when the db token asks the same query.
    const a = await read("/v1/catalog/services", webA);
    const d = await read("/v1/catalog/services", dbOnly);
    const b = await read("/v1/catalog/services", webB);
    expect(a.status).toBe(200);
    expect(Object.keys(JSON.parse(a.body))).toEqual(["web"]);
    expect(Object.keys(JSON.parse(d.body))).toEqual(["db"]);
    expect(b).toEqual(a);
    for (const r of [a, b, d]) expect(r.filtered).toBe("true");
    // The same for a health query the db token may not read in full.
    const hw = await read("/v1/health/service/web", webA);
    const hd = await read("/v1/health/service/web", dbOnly);
    expect(JSON.parse(hw.body).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(["web-1"]);
    expect(hd.status === 403 || JSON.parse(hd.body).length === 0).toBe(true);
  });

  test("20 blocking queries of two tokens with one grant, woken by one change: one evaluation per index, the same bytes to all", async () => {
    const first = await read("/v1/health/service/web", webA);
    const index = Number(first.index);
    const before = await answers();
    const held = Array.from({ length: 20 }, (_, i) => read(`/v1/health/service/web?index=${index}&wait=60s`, i % 2 ? webA : webB));
    // Every query is held before the change (each was evaluated once at the old index, from the cache).
    await Bun.sleep(1500);
    const r = await call(n.url, "PUT", "/v1/catalog/register", n.management, { Node: "n3", Address: "10.0.0.3", Service: { ID: "web-2", Service: "web", Port: 80 } });
    expect(r.status).toBe(200);
    const woke = await Promise.all(held);
    const after = await answers();
    for (const w of woke) {
      expect(w.status).toBe(200);
      expect(Number(w.index)).toBeGreaterThan(index);
      expect(w.body).toBe(woke[0]!.body);
      expect(w.filtered).toBe("true");
    }
    expect(JSON.parse(woke[0]!.body).map((e: { Service: { ID: string } }) => e.Service.ID).sort()).toEqual(["web-1", "web-2"]);
    // 20 requests at the old index and 20 re-evaluations after the change: each table version is
    // computed once (the registration and the node check it brings may move the tables in more
    // than one step), every other answer comes from the cache. Unshared, it would be 40 evaluations.
    expect(after.computed - before.computed).toBeLessThanOrEqual(4);
    expect(after.cache - before.cache).toBeGreaterThanOrEqual(36);
  }, 90_000);
});
