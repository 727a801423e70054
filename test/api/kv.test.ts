// Consul-compatible KV on a real dev process (reference §7 and §3).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, type CorralProcess } from "../helpers/proc.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev" });
});
afterAll(killAll);

const put = (key: string, body: string | Uint8Array, q = "") => fetch(`${p.url}/v1/kv/${key}${q}`, { method: "PUT", body });
const del = (key: string, q = "") => fetch(`${p.url}/v1/kv/${key}${q}`, { method: "DELETE" });
const get = (key: string, q = "") => fetch(`${p.url}/v1/kv/${key}${q}`);
const index = (r: Response) => Number(r.headers.get("x-consul-index"));

describe("KV", () => {
  test("put, get with base64 Value, raw, 404 with an index", async () => {
    expect(await (await put("app/config", "hello")).json()).toBe(true);
    const r = await get("app/config");
    expect(r.status).toBe(200);
    const [e] = (await r.json()) as any[];
    expect(e).toMatchObject({ Key: "app/config", Value: Buffer.from("hello").toString("base64"), Flags: 0, LockIndex: 0 });
    expect(e.CreateIndex).toBe(e.ModifyIndex);
    expect(index(r)).toBe(e.ModifyIndex);
    const raw = await get("app/config", "?raw");
    expect(raw.headers.get("content-type")).toStartWith("text/plain");
    expect(await raw.text()).toBe("hello");
    const missing = await get("nope");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("");
    expect(index(missing)).toBeGreaterThan(0);
  });

  test("binary values, empty values and flags", async () => {
    const bytes = new Uint8Array([0, 255, 1, 2, 254]);
    await put("bin", bytes, "?flags=42");
    const [e] = (await (await get("bin")).json()) as any[];
    expect(Buffer.from(e.Value, "base64")).toEqual(Buffer.from(bytes));
    expect(e.Flags).toBe(42);
    await put("empty", "");
    expect(((await (await get("empty")).json()) as any[])[0].Value).toBeNull();
  });

  test("a plain PUT (the fast path, core/api/kv-fast.ts) answers as the route does", async () => {
    const fast = await put("same/answer", "v");
    const route = await put("same/answer", "v", "?flags=0");
    for (const r of [fast, route]) {
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("application/json");
    }
    expect(await fast.text()).toBe(await route.text());
    const [e] = (await (await get("same/answer")).json()) as any[];
    expect(e).toMatchObject({ Key: "same/answer", Value: Buffer.from("v").toString("base64"), Flags: 0 });
    expect(e.ModifyIndex).toBeGreaterThan(e.CreateIndex);
  });

  test("%2F and %3A in keys decode like raw slashes", async () => {
    await put("a%2Fb%3Ac", "x");
    const [e] = (await (await get("a/b:c")).json()) as any[];
    expect(e.Key).toBe("a/b:c");
  });

  test("recurse, keys and separator", async () => {
    for (const k of ["web/foo", "web/bar", "web/sub/one", "web/sub/two"]) await put(k, "v");
    const all = (await (await get("web/", "?recurse")).json()) as any[];
    expect(all.map((e) => e.Key)).toEqual(["web/bar", "web/foo", "web/sub/one", "web/sub/two"]);
    expect(await (await get("web/", "?keys&separator=/")).json()).toEqual(["web/bar", "web/foo", "web/sub/"]);
    expect(await (await get("web/", "?keys")).json()).toHaveLength(4);
    expect((await get("zzz/", "?keys")).status).toBe(404);
    expect((await get("", "?recurse")).status).toBe(200);
  });

  test("cas: 0 creates only, N matches ModifyIndex", async () => {
    expect(await (await put("cas-key", "1", "?cas=0")).json()).toBe(true);
    expect(await (await put("cas-key", "2", "?cas=0")).json()).toBe(false);
    const [e] = (await (await get("cas-key")).json()) as any[];
    expect(await (await put("cas-key", "3", `?cas=${e.ModifyIndex + 100}`)).json()).toBe(false);
    expect(await (await put("cas-key", "3", `?cas=${e.ModifyIndex}`)).json()).toBe(true);
    const [e2] = (await (await get("cas-key")).json()) as any[];
    expect(await (await del("cas-key", `?cas=${e.ModifyIndex}`)).json()).toBe(false);
    expect(await (await del("cas-key", `?cas=${e2.ModifyIndex}`)).json()).toBe(true);
    expect((await get("cas-key")).status).toBe(404);
  });

  test("delete one key, a missing key, and a prefix; the prefix index moves on delete", async () => {
    const before = index(await get("web/", "?recurse"));
    expect(await (await del("never-existed")).json()).toBe(true);
    expect(await (await del("web/sub/", "?recurse")).json()).toBe(true);
    const after = await get("web/", "?recurse");
    expect(index(after)).toBeGreaterThan(before);
    expect(((await after.json()) as any[]).map((e) => e.Key)).toEqual(["web/bar", "web/foo"]);
  });

  test("a blocking query returns within 1 s of a change, and holds until wait otherwise", async () => {
    await put("watch/me", "1");
    const first = await get("watch/me");
    const idx = index(first);
    const t0 = Date.now();
    const blocked = get("watch/me", `?index=${idx}&wait=10s`);
    await Bun.sleep(300);
    await put("watch/other", "unrelated"); // a change elsewhere must not wake it with the same data
    await Bun.sleep(200);
    await put("watch/me", "2");
    const changedAt = Date.now();
    const r = await blocked;
    expect(Date.now() - changedAt).toBeLessThan(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(index(r)).toBeGreaterThan(idx);
    expect(Buffer.from(((await r.json()) as any[])[0].Value, "base64").toString()).toBe("2");

    const t1 = Date.now();
    const timedOut = await get("watch/me", `?index=${index(r)}&wait=300ms`);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(290);
    expect(index(timedOut)).toBe(index(r));
  });

  test("Consul-style errors: bad index, bad wait, missing key, too large", async () => {
    const badIndex = await get("x", "?index=abc");
    expect(badIndex.status).toBe(400);
    expect(await badIndex.text()).toBe("Invalid index");
    const badWait = await get("x", "?index=1&wait=10");
    expect(badWait.status).toBe(400);
    expect(await badWait.text()).toBe("Invalid wait time");
    expect((await put("", "v")).status).toBe(400);
    expect((await put("big", "x".repeat(600 * 1024))).status).toBe(413);
    expect((await get("x", "?stale&consistent")).status).toBe(400);
    expect((await get("x", "?dc=other")).status).toBe(500);
  });
});
