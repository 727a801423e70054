// The admin API of a real dev process: status routes, JSON errors, input
// validation, body limits, the OpenAPI document, signed cluster RPC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, getJson, signedPost, devSecretOf, eventually, type CorralProcess } from "../helpers/proc.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev" });
});
afterAll(killAll);

describe("admin API", () => {
  test("healthz, leader, agent/self", async () => {
    expect((await getJson(p.url + "/v1/healthz")).body).toMatchObject({ ok: true, role: "dev" });
    expect((await getJson(p.url + "/v1/status/leader")).body).toBe(`127.0.0.1:${p.port}`);
    const self = (await getJson(p.url + "/v1/agent/self")).body;
    expect(self.Config.Datacenter).toBe("dc1");
    expect(self.corral.role).toBe("dev");
  });

  test("the dev node registers itself and reports samples", async () => {
    const nodes = await eventually(async () => {
      const r = await getJson<any[]>(p.url + "/v1/nodes");
      return r.body.length === 1 && r.body;
    }, 10_000);
    expect(nodes[0].status).toBe("ready");
    const one = await eventually(async () => {
      const r = await getJson(p.url + "/v1/node/" + nodes[0].name);
      return r.body.sample && r.body;
    }, 10_000);
    expect(one.id).toBe(nodes[0].id);
    expect(one.sample.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  test("reads carry X-Corral-Index", async () => {
    const r = await getJson(p.url + "/v1/nodes");
    expect(Number(r.headers.get("x-corral-index"))).toBeGreaterThan(0);
  });

  test("unknown routes and missing nodes are JSON 404s", async () => {
    const a = await getJson(p.url + "/v1/does-not-exist");
    expect(a.status).toBe(404);
    expect(a.body.code).toBe("NOT_FOUND");
    const b = await getJson(p.url + "/v1/node/nope");
    expect(b.status).toBe(404);
    expect(b.body).toEqual({ error: expect.stringContaining("nope"), code: "NODE_NOT_FOUND" });
  });

  test("invalid input is a JSON 400 naming the field", async () => {
    const put = (body: string, ct = "application/json") =>
      getJson(p.url + "/v1/plugins/probe", { method: "PUT", headers: { "content-type": ct }, body });
    const wrongType = await put(JSON.stringify({ enabled: "yes" }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.code).toBe("INVALID_INPUT");
    expect(wrongType.body.error).toContain("enabled");
    const malformed = await put("{not json");
    expect(malformed.status).toBe(400);
    expect(typeof malformed.body.error).toBe("string");
    const extra = await put(JSON.stringify({ enabled: true, x: 1 }));
    expect(extra.status).toBe(400);
    const badName = await getJson(p.url + "/v1/plugins/BAD..NAME");
    expect(badName.status).toBe(400);
  });

  test("bodies over the limit get 413", async () => {
    const big = JSON.stringify({ enabled: true, pad: "x".repeat(2 * 1024 * 1024) });
    const r = await getJson(p.url + "/v1/plugins/probe", { method: "PUT", headers: { "content-type": "application/json" }, body: big });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("BODY_TOO_LARGE");
  });

  test("cluster RPC needs the cluster secret's signature", async () => {
    const body = { id: "00000000-0000-4000-8000-000000000001", sample: undefined };
    const none = await getJson(p.url + "/v1/cluster/heartbeat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(none.status).toBe(401);
    const wrong = await signedPost(p.url, "/v1/cluster/heartbeat", "not-the-secret-at-all", body);
    expect(wrong.status).toBe(401);
    const right = await signedPost(p.url, "/v1/cluster/heartbeat", devSecretOf(p.dataDir), body);
    expect(right.status).toBe(404); // signed, but that node never joined
    expect(right.body.code).toBe("UNKNOWN_NODE");
  });

  test("every mounted route is in /v1/openapi.json", async () => {
    const doc = (await getJson(p.url + "/v1/openapi.json")).body;
    const self = (await getJson(p.url + "/v1/agent/self")).body;
    const paths = Object.keys(doc.paths);
    // Same count as the route table, and the known ones by name (a plugin's included).
    const operations = paths.reduce((n, k) => n + Object.keys(doc.paths[k]).length, 0);
    expect(operations).toBe(self.corral.routes);
    for (const route of ["/v1/healthz", "/v1/nodes", "/v1/node/{id}", "/v1/plugins/{name}", "/v1/probe", "/v1/openapi.json"]) {
      expect(paths).toContain(route);
    }
  });

  test("a disabled plugin's routes leave the API and the document", async () => {
    const off = await getJson(p.url + "/v1/plugins/probe", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"enabled":false}' });
    expect(off.body.state).toBe("disabled");
    expect((await getJson(p.url + "/v1/probe")).status).toBe(404);
    expect(Object.keys((await getJson(p.url + "/v1/openapi.json")).body.paths)).not.toContain("/v1/probe");
    const on = await getJson(p.url + "/v1/plugins/probe", { method: "PUT", headers: { "content-type": "application/json" }, body: '{"enabled":true}' });
    expect(on.body.state).toBe("enabled");
    expect((await getJson(p.url + "/v1/probe")).status).toBe(200);
  });
});
