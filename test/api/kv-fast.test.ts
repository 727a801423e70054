// The KV write fast path answers a plain PUT like the route it shadows (the
// same KVSet, `true`/`false`, error bodies, request metrics) and leaves
// everything else to the route table: queries, encoded or overlong keys,
// unknown lengths, oversized bodies, and any request while ACLs, audit or
// rate limits are on. test/api/kv.test.ts checks the same end to end.
import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { kvWriteFast } from "../../core/api/kv-fast.ts";
import { keyParam } from "../../core/api/kv.ts";
import { dispatchOne } from "../helpers/fast-path.ts";
import { ApiError, consulError } from "../../core/http/errors.ts";
import { HttpMetrics } from "../../core/http/middleware/http-metrics.ts";
import type { Command } from "../../core/state/commands.ts";

function setup(opts: { open?: boolean; fail?: Error; casFails?: boolean } = {}) {
  const proposed: Command[] = [];
  const registry = new Registry();
  const fast = dispatchOne("put", "/v1/kv/{key{.*}}", kvWriteFast({ isLeader: () => true,
    propose: async (cmd) => {
      if (opts.fail) throw opts.fail;
      proposed.push(cmd);
      return { result: { ok: true, value: !opts.casFails } };
    },
    locks: async () => { throw new Error("no lock writes here"); },
    params: keyParam,
  }), { open: () => opts.open ?? true, maxBodyBytes: 1000, metrics: new HttpMetrics({ registry }) });
  const counted = async () => (await registry.getSingleMetric("corral_http_requests_total")!.get()).values.map((v) => v.labels);
  return { fast, proposed, counted };
}

const put = (path: string, body = "hello", headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1:7700" + path, { method: "PUT", body, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } });

describe("KV write fast path", () => {
  test("a plain PUT becomes the route's KVSet and answers true, counted as the route", async () => {
    const s = setup();
    const res = await s.fast(put("/v1/kv/app/config"))!;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe("true");
    expect(s.proposed).toEqual([
      { type: "KVSet", v: 1, at: expect.any(Number), key: "app/config", value: Buffer.from("hello").toString("base64"), flags: 0, cas: undefined },
    ]);
    expect(await s.counted()).toEqual([{ method: "PUT", route: "/v1/kv/{key}", status: "200" }]);
  });

  test("an empty body is an empty value; a refused write answers false", async () => {
    const s = setup({ casFails: true });
    expect(await (await s.fast(put("/v1/kv/k", ""))!).text()).toBe("false");
    expect((s.proposed[0] as { value: string }).value).toBe("");
  });

  test("leaves everything else to the route table", () => {
    const s = setup();
    const long = "k".repeat(1025);
    for (const req of [
      new Request("http://127.0.0.1:7700/v1/kv/k"), // GET
      new Request("http://127.0.0.1:7700/v1/kv/k", { method: "DELETE" }),
      put("/v1/kv/k?cas=0"), put("/v1/kv/k?flags=3"), put("/v1/kv/k?dc=other"), put("/v1/kv/k?token=t"),
      put("/v1/kv/"), put("/v1/kv/a%2Fb"), put(`/v1/kv/${long}`), put("/v1/kvx"), put("/v1/catalog/register"),
      put("/v1/kv/k", "x".repeat(1001)),
      new Request("http://127.0.0.1:7700/v1/kv/k", { method: "PUT", body: new ReadableStream({ start: (c) => c.close() }) }), // no length
    ]) expect(s.fast(req)).toBeUndefined();
    expect(setup({ open: false }).fast(put("/v1/kv/k"))).toBeUndefined();
    expect(s.proposed).toEqual([]);
  });

  test("errors answer as the route table's error handler does", async () => {
    const json = await setup({ fail: new ApiError(503, "NOT_LEADER", "no leader elected", { "Retry-After": "1" }) }).fast(put("/v1/kv/k"))!;
    expect(json.status).toBe(503);
    expect(json.headers.get("retry-after")).toBe("1");
    expect(await json.json()).toEqual({ error: "no leader elected", code: "NOT_LEADER" });
    const text = await setup({ fail: consulError(500, "No path to datacenter") }).fast(put("/v1/kv/k"))!;
    expect(text.headers.get("content-type")).toStartWith("text/plain");
    expect(await text.text()).toBe("No path to datacenter");
    const s = setup({ fail: new Error("boom") });
    const internal = await s.fast(put("/v1/kv/k"))!;
    expect(internal.status).toBe(500);
    expect(await internal.json()).toEqual({ error: "internal error", code: "INTERNAL" });
    expect(await s.counted()).toEqual([{ method: "PUT", route: "/v1/kv/{key}", status: "500" }]);
  });
});
