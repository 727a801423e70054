// The plain read of one key (Consul's lock recipe waits for a lock with it)
// has a fast path before hono (core/api/kv-read-fast.ts), and KV blocking
// reads wait on their own key or prefix (core/state/watch.ts). Real nodes:
//   - with ACLs on, the hot request's exact shape (`GET /v1/kv/<key>?index=N`)
//     is refused to a narrow token and to no token, by header, `?token=` or
//     bearer, blocking or not, stale or consistent, GET or HEAD; the tokens
//     that may read get the route's answer, woken by a change;
//   - without ACLs (the fast path taken), Consul's index rules hold: a
//     waiter on a key returns with the key's ModifyIndex when it changes and
//     not for another key's write; a missing key waited on returns when it
//     is created; a delete answers 404 with the delete's index; a recursive
//     read returns with the highest index under the prefix; a session's end
//     wakes the waiters of the lock it held.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

afterAll(() => killAll());

const indexOf = (r: Response) => Number(r.headers.get("x-consul-index"));

/** A blocking read and how long it took (ms). */
async function timed(url: string, init: RequestInit = {}) {
  const t0 = performance.now();
  const res = await fetch(url, init);
  const body = res.status === 200 ? await res.json() : (await res.text(), undefined);
  return { res, body: body as { Key: string; Session?: string; ModifyIndex: number }[] | undefined, ms: performance.now() - t0 };
}

describe("with ACLs on, the key read is decided as on the route", () => {
  let n: AclNode;
  let narrow: string;
  let index: number;
  beforeAll(async () => {
    n = await startAclNode();
    narrow = (await tokenWith(n, "mine", 'key_prefix "mine/" { policy = "read" }')).secret;
    expect((await call(n.url, "PUT", "/v1/kv/secret/lock", n.management, "held")).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/mine/lock", n.management, "v")).status).toBe(200);
    index = indexOf(await fetch(`${n.url}/v1/kv/secret/lock`, { headers: { "X-Consul-Token": n.management } }));
    expect(index).toBeGreaterThan(0);
  }, 60_000);

  test("a narrow token and no token are refused, by every token source and consistency mode", async () => {
    const refusals: string[] = [];
    for (const query of ["", `?index=${index}&wait=2s`, `?index=${index - 1}`, "?stale", "?consistent", `?index=${index}&wait=2s&stale`]) {
      const sep = query ? "&" : "?";
      const sends: [string, string, RequestInit][] = [
        ["no token", query, {}],
        ["narrow header", query, { headers: { "X-Consul-Token": narrow } }],
        ["narrow bearer", query, { headers: { Authorization: `Bearer ${narrow}` } }],
        ["narrow ?token=", `${query}${sep}token=${narrow}`, {}],
        ["forged header", query, { headers: { "X-Consul-Token": crypto.randomUUID() } }],
        ["narrow HEAD", query, { method: "HEAD", headers: { "X-Consul-Token": narrow } }],
      ];
      for (const [label, q, init] of sends) {
        const { res, body, ms } = await timed(`${n.url}/v1/kv/secret/lock${q}`, init);
        // Refused at once, before any wait, and nothing of the key shows (not even its index).
        if (res.status !== 403 || body !== undefined || ms > 1500 || res.headers.get("x-consul-index") !== null) {
          refusals.push(`${label} ${q}: ${res.status} after ${Math.round(ms)} ms, index ${res.headers.get("x-consul-index")}`);
        }
      }
    }
    expect(refusals).toEqual([]);
  }, 60_000);

  test("tokens that may read get the key, and a blocking read is woken by its write", async () => {
    const own = await timed(`${n.url}/v1/kv/mine/lock`, { headers: { "X-Consul-Token": narrow } });
    expect(own.res.status).toBe(200);
    expect(own.body![0]!.Key).toBe("mine/lock");
    const waiting = timed(`${n.url}/v1/kv/secret/lock?index=${index}&wait=20s`, { headers: { "X-Consul-Token": n.management } });
    await Bun.sleep(300);
    expect((await call(n.url, "PUT", "/v1/kv/secret/lock", n.management, "next")).status).toBe(200);
    const woke = await waiting;
    expect(woke.res.status).toBe(200);
    expect(woke.ms).toBeLessThan(10_000);
    expect(indexOf(woke.res)).toBe(woke.body![0]!.ModifyIndex);
    expect(indexOf(woke.res)).toBeGreaterThan(index);
  }, 60_000);
});

describe("without ACLs, blocking key reads keep Consul's index rules", () => {
  let p: CorralProcess;
  const put = (key: string, body = "v", query = "") => fetch(`${p.url}/v1/kv/${key}${query}`, { method: "PUT", body });
  beforeAll(async () => {
    p = await startCorral({ role: "dev" });
  }, 60_000);

  test("a key's waiter sleeps through another key's write and returns with its key's ModifyIndex", async () => {
    await put("rules/lock", "a");
    const at = indexOf(await fetch(`${p.url}/v1/kv/rules/lock`));
    const waiting = timed(`${p.url}/v1/kv/rules/lock?index=${at}&wait=1500ms`);
    await Bun.sleep(200);
    await put("rules/data", "x");
    await put("rules/lock-other", "x");
    const slept = await waiting;
    // Held until its wait ended (Consul adds up to wait/16), answering the same index.
    expect(slept.ms).toBeGreaterThan(1300);
    expect(indexOf(slept.res)).toBe(at);
    const woken = timed(`${p.url}/v1/kv/rules/lock?index=${at}&wait=20s`);
    await Bun.sleep(200);
    await put("rules/lock", "b");
    const w = await woken;
    expect(w.ms).toBeLessThan(10_000);
    expect(indexOf(w.res)).toBe(w.body![0]!.ModifyIndex);
    expect(indexOf(w.res)).toBeGreaterThan(at);
  }, 60_000);

  test("a missing key returns when created; a delete answers 404 with its index; recurse returns the highest index under it", async () => {
    const missing = await fetch(`${p.url}/v1/kv/rules2/new`);
    expect(missing.status).toBe(404);
    const created = timed(`${p.url}/v1/kv/rules2/new?index=${indexOf(missing)}&wait=20s`);
    await Bun.sleep(200);
    await put("rules2/new", "hello");
    const c = await created;
    expect(c.res.status).toBe(200);
    expect(indexOf(c.res)).toBe(c.body![0]!.ModifyIndex);

    const deleted = timed(`${p.url}/v1/kv/rules2/new?index=${indexOf(c.res)}&wait=20s`);
    await Bun.sleep(200);
    const del = await fetch(`${p.url}/v1/kv/rules2/new`, { method: "DELETE" });
    expect(del.status).toBe(200);
    const d = await deleted;
    expect(d.res.status).toBe(404);
    expect(indexOf(d.res)).toBeGreaterThan(indexOf(c.res));

    const tree = await fetch(`${p.url}/v1/kv/rules2/?recurse`);
    const treeIndex = indexOf(tree);
    const recurse = timed(`${p.url}/v1/kv/rules2/?recurse&index=${treeIndex}&wait=20s`);
    await Bun.sleep(200);
    await put("elsewhere/x");
    await put("rules2/deep/er", "x");
    const r = await recurse;
    expect(r.res.status).toBe(200);
    expect(indexOf(r.res)).toBe(Math.max(...r.body!.map((e) => e.ModifyIndex)));
    expect(r.body!.map((e) => e.Key)).toContain("rules2/deep/er");
  }, 60_000);

  test("a session's end wakes the waiters of the lock it held", async () => {
    const s = (await (await fetch(`${p.url}/v1/session/create`, { method: "PUT", body: JSON.stringify({ LockDelay: "0s" }) })).json()) as { ID: string };
    expect(await (await put("rules3/.lock", "me", `?acquire=${s.ID}`)).json()).toBe(true);
    const held = await timed(`${p.url}/v1/kv/rules3/.lock`);
    expect(held.body![0]!.Session).toBe(s.ID);
    const waiting = timed(`${p.url}/v1/kv/rules3/.lock?index=${indexOf(held.res)}&wait=20s`);
    await Bun.sleep(200);
    expect((await fetch(`${p.url}/v1/session/destroy/${s.ID}`, { method: "PUT" })).status).toBe(200);
    const w = await waiting;
    expect(w.ms).toBeLessThan(10_000);
    expect(w.body![0]!.Session).toBeUndefined();
    expect(indexOf(w.res)).toBe(w.body![0]!.ModifyIndex);
  }, 60_000);
});
