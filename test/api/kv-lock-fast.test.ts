// The lock writes of Consul's recipe (`?acquire=<session>`, `?release=<session>`)
// take the KV write fast path: the same LockWriter as the route
// (core/api/kv-lock-write.ts), the same answers (true, false, Consul's 500
// "Invalid session" text), and anything else still goes to the route. The
// second half compares, on a real dev node, what a client sees through the
// fast path (`?acquire=ID`) and through the route (`?acquire=ID&flags=0`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { kvWriteFast } from "../../core/api/kv-fast.ts";
import { keyParam } from "../../core/api/kv.ts";
import { dispatchOne } from "../helpers/fast-path.ts";
import { consulError } from "../../core/http/errors.ts";
import { HttpMetrics } from "../../core/http/middleware/http-metrics.ts";
import type { LockWriteRequest } from "../../core/api/kv-lock-write.ts";
import { killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

function setup(answer: (w: LockWriteRequest) => Promise<boolean>, open = true) {
  const writes: LockWriteRequest[] = [];
  const registry = new Registry();
  const fast = dispatchOne("put", "/v1/kv/{key{.*}}", kvWriteFast({ isLeader: () => true,
    propose: async () => { throw new Error("a lock write must not be proposed as a plain write"); },
    params: keyParam,
    locks: async (w) => {
      writes.push(w);
      return answer(w);
    },
  }), { open: () => open, maxBodyBytes: 1000, metrics: new HttpMetrics({ registry }) });
  const counted = async () => (await registry.getSingleMetric("corral_http_requests_total")!.get()).values.map((v) => v.labels);
  return { fast, writes, counted };
}

const put = (path: string, body = "") =>
  new Request("http://127.0.0.1:7700" + path, { method: "PUT", body, headers: { "content-length": String(Buffer.byteLength(body)) } });

describe("lock writes on the KV fast path", () => {
  test("?acquire= and ?release= alone are written by the lock writer and answered as the route answers", async () => {
    const s = setup(async (w) => w.acquire === "s-1");
    const acq = await s.fast(put("/v1/kv/svc/leader?acquire=s-1", "me"))!;
    expect(acq.status).toBe(200);
    expect(acq.headers.get("content-type")).toBe("application/json");
    expect(await acq.text()).toBe("true");
    expect(await (await s.fast(put("/v1/kv/svc/leader?release=0b619c5a-6258-45be-8e7f-7aeeb9210242"))!).text()).toBe("false");
    // Each write carries its request's signal (a held acquire is dropped when the client goes away).
    expect(s.writes.every((w) => w.signal instanceof AbortSignal)).toBe(true);
    expect(s.writes.map(({ signal: _, ...w }) => w)).toEqual([
      { key: "svc/leader", value: Buffer.from("me").toString("base64"), flags: 0, acquire: "s-1" },
      { key: "svc/leader", value: "", flags: 0, release: "0b619c5a-6258-45be-8e7f-7aeeb9210242" },
    ]);
    expect(await s.counted()).toEqual([{ method: "PUT", route: "/v1/kv/{key}", status: "200" }]);
  });

  test("an unknown session is Consul's 500 text, as from the route", async () => {
    const s = setup(async () => { throw consulError(500, 'Invalid session "nope"'); });
    const res = await s.fast(put("/v1/kv/k?acquire=nope"))!;
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    expect(await res.text()).toBe('Invalid session "nope"');
  });

  test("any other query, an odd session id, or ACLs on: the route", () => {
    const s = setup(async () => true);
    for (const path of [
      "/v1/kv/k?acquire=s&flags=1", "/v1/kv/k?flags=1&acquire=s", "/v1/kv/k?acquire=s&release=s", "/v1/kv/k?acquire=",
      "/v1/kv/k?acquire=a%20b", "/v1/kv/k?acquire=" + "a".repeat(65), "/v1/kv/k?acquire=s&cas=3", "/v1/kv/k?acquire=s&token=t",
      "/v1/kv/k?Acquire=s", "/v1/kv/?acquire=s", "/v1/kv/a%2Fb?acquire=s",
    ]) expect(s.fast(put(path))).toBeUndefined();
    expect(setup(async () => true, false).fast(put("/v1/kv/k?acquire=s"))).toBeUndefined();
    expect(s.writes).toEqual([]);
  });
});

describe("fast path and route agree on a real node", () => {
  let dev: CorralProcess;
  beforeAll(async () => {
    dev = await startCorral({ role: "dev" });
  });
  afterAll(killAll);

  const session = async () => ((await (await fetch(`${dev.url}/v1/session/create`, { method: "PUT", body: JSON.stringify({ LockDelay: "0s" }) })).json()) as { ID: string }).ID;
  const answer = async (path: string, body = "") => {
    const r = await fetch(dev.url + path, { method: "PUT", body });
    return { status: r.status, type: r.headers.get("content-type"), body: await r.text() };
  };

  test("true, false, release, re-acquire and an invalid session, through both", async () => {
    const [a, b] = [await session(), await session()];
    for (const [name, via] of [["fast", ""], ["route", "&flags=0"]] as const) {
      const key = `/v1/kv/agree/${name}`;
      expect(await answer(`${key}?acquire=${a}${via}`, "a")).toEqual({ status: 200, type: "application/json", body: "true" });
      expect(await answer(`${key}?acquire=${b}${via}`, "b")).toEqual({ status: 200, type: "application/json", body: "false" });
      expect(await answer(`${key}?release=${b}${via}`)).toEqual({ status: 200, type: "application/json", body: "false" });
      expect(await answer(`${key}?release=${a}${via}`, "done")).toEqual({ status: 200, type: "application/json", body: "true" });
      expect(await answer(`${key}?acquire=${b}${via}`, "b")).toEqual({ status: 200, type: "application/json", body: "true" });
      const invalid = await answer(`${key}?acquire=00000000-0000-0000-0000-000000000000${via}`);
      expect(invalid.status).toBe(500);
      expect(invalid.body).toBe('Invalid session "00000000-0000-0000-0000-000000000000"');
      const [entry] = (await (await fetch(`${dev.url}${key}`)).json()) as { Session?: string; LockIndex: number; Value: string }[];
      expect(entry).toMatchObject({ Session: b, LockIndex: 2, Value: Buffer.from("b").toString("base64") });
    }
  }, 30_000);
});
