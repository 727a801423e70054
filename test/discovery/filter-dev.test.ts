// ?filter= on a real dev process: every list endpoint that takes it, composed
// with ?tag / ?passing / ?node-meta, with blocking queries (the index is the
// unfiltered result's), the 400s for bad expressions, and the npm `consul`
// client forwarding `filter`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, getJson, type CorralProcess } from "../helpers/proc.ts";
import { consulClient, withResponse } from "./consul-flow.ts";

let p: CorralProcess;
let nodeName = "";

const put = (path: string, body?: unknown) =>
  fetch(p.url + path, { method: "PUT", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
const q = (expr: string) => "filter=" + encodeURIComponent(expr);
const get = async <T = any>(path: string) => (await getJson<T>(p.url + path)).body;
const index = (r: Response) => Number(r.headers.get("x-consul-index"));

beforeAll(async () => {
  p = await startCorral({ role: "dev", config: `[plugins.discovery]\nsync_interval = "1s"\n` });
  nodeName = (await get("/v1/agent/self")).Config.NodeName;
  const reg = [
    { Name: "fweb", ID: "fweb-1", Tags: ["primary", "v1"], Port: 8080, Meta: { env: "prod", "app-id": "a1" }, Check: { TTL: "60s", Status: "passing" } },
    { Name: "fweb", ID: "fweb-2", Tags: ["v2"], Port: 8081, Meta: { env: "staging" }, Check: { TTL: "60s", Status: "critical" } },
    { Name: "fdb", ID: "fdb-1", Tags: ["primary"], Port: 5432, Meta: { env: "prod" }, Check: { TTL: "60s", Status: "warning" } },
  ];
  for (const r of reg) expect((await put("/v1/agent/service/register", r)).status).toBe(200);
});
afterAll(killAll);

const ids = (list: { ServiceID?: string; Service?: { ID: string } }[]) => list.map((e) => e.ServiceID ?? e.Service!.ID).sort();

describe("?filter= on a dev node", () => {
  test("catalog/service/:name: ServiceNode selectors, composed with ?tag", async () => {
    expect(ids(await get(`/v1/catalog/service/fweb?${q(`ServiceMeta.env == prod`)}`))).toEqual(["fweb-1"]);
    expect(ids(await get(`/v1/catalog/service/fweb?${q(`ServicePort != 1 and "v2" in ServiceTags`)}`))).toEqual(["fweb-2"]);
    expect(ids(await get(`/v1/catalog/service/fweb?${q(`ServiceMeta["app-id"] is not empty`)}`))).toEqual(["fweb-1"]);
    expect(ids(await get(`/v1/catalog/service/fweb?${q(`ServiceID matches "^fweb-[12]$"`)}`))).toEqual(["fweb-1", "fweb-2"]);
    expect(ids(await get(`/v1/catalog/service/fweb?${q(`Node == "${nodeName}"`)}`))).toEqual(["fweb-1", "fweb-2"]);
    expect(ids(await get(`/v1/catalog/service/fweb?tag=v1&${q(`ServiceMeta.env == staging`)}`))).toEqual([]);
    expect(ids(await get(`/v1/catalog/service/fweb?tag=v2&${q(`ServiceMeta.env == staging`)}`))).toEqual(["fweb-2"]);
    // An empty filter is no filter.
    expect(ids(await get(`/v1/catalog/service/fweb?filter=`))).toEqual(["fweb-1", "fweb-2"]);
  });

  test("catalog/services: the filter applies to instances, then names are grouped with those instances' tags", async () => {
    const all = await get<Record<string, string[]>>("/v1/catalog/services");
    expect(all.fweb).toEqual(["primary", "v1", "v2"]);
    const prod = await get<Record<string, string[]>>(`/v1/catalog/services?${q(`ServiceMeta.env == prod`)}`);
    expect(prod).toEqual({ fdb: ["primary"], fweb: ["primary", "v1"] });
    expect(await get(`/v1/catalog/services?${q(`ServiceTags contains v2`)}`)).toEqual({ fweb: ["v2"] });
    expect(await get(`/v1/catalog/services?${q(`ServiceName == nothing`)}`)).toEqual({});
    // The index is the unfiltered list's.
    const [a, b] = await Promise.all([fetch(p.url + "/v1/catalog/services"), fetch(p.url + `/v1/catalog/services?${q(`ServiceName == fdb`)}`)]);
    expect(index(b)).toBe(index(a));
  });

  test("health/service/:name: Node, Service and Checks selectors (any check), composed with ?passing and ?node-meta", async () => {
    expect(ids(await get(`/v1/health/service/fweb?${q(`Checks.Status == critical`)}`))).toEqual(["fweb-2"]);
    expect(ids(await get(`/v1/health/service/fweb?${q(`Checks.Status != passing`)}`))).toEqual(["fweb-2"]);
    expect(ids(await get(`/v1/health/service/fweb?${q(`not Checks.Status == critical and Service.Meta.env == prod`)}`))).toEqual(["fweb-1"]);
    expect(ids(await get(`/v1/health/service/fweb?${q(`Checks.CheckID == serfHealth`)}`))).toEqual(["fweb-1", "fweb-2"]);
    expect(ids(await get(`/v1/health/service/fweb?${q(`Node.Node == "${nodeName}" and Service.Port == 8081`)}`))).toEqual(["fweb-2"]);
    expect(ids(await get(`/v1/health/service/fweb?passing&${q(`Service.Port == 8081`)}`))).toEqual([]);
    expect(ids(await get(`/v1/health/service/fweb?passing&${q(`Service.Tags contains primary`)}`))).toEqual(["fweb-1"]);
    expect(ids(await get(`/v1/health/service/fweb?node-meta=nope:x&${q(`Service.Port == 8080`)}`))).toEqual([]);
  });

  test("health/checks, health/node, health/state: HealthCheck selectors", async () => {
    const checks = await get<any[]>(`/v1/health/checks/fweb?${q(`ServiceID == "fweb-2"`)}`);
    expect(checks.map((c) => [c.CheckID, c.Status])).toEqual([["service:fweb-2", "critical"]]);
    const node = await get<any[]>(`/v1/health/node/${nodeName}?${q(`CheckID == serfHealth or ServiceName == fdb`)}`);
    expect(node.map((c) => c.CheckID).sort()).toEqual(["serfHealth", "service:fdb-1"]);
    const warn = await get<any[]>(`/v1/health/state/any?${q(`Status == warning and ServiceTags contains primary`)}`);
    expect(warn.map((c) => c.ServiceID)).toEqual(["fdb-1"]);
    expect(await get(`/v1/health/state/critical?${q(`ServiceName == fdb`)}`)).toEqual([]);
    const typed = await get<any[]>(`/v1/health/checks/fweb?${q(`Type == ttl and Definition.TTL == "1m0s" or Definition.TTL == "60s"`)}`);
    expect(typed.length).toBe(2);
  });

  test("catalog/nodes and catalog/node/:node (the filter applies to the node's services)", async () => {
    expect((await get<any[]>(`/v1/catalog/nodes?${q(`Node == "${nodeName}"`)}`)).length).toBe(1);
    expect(await get(`/v1/catalog/nodes?${q(`Meta.rack == r9`)}`)).toEqual([]);
    expect((await get<any[]>(`/v1/catalog/nodes?${q(`TaggedAddresses.lan is not empty`)}`)).length).toBe(1);
    const n = await get(`/v1/catalog/node/${nodeName}?${q(`Service == fweb and Port == 8081`)}`);
    expect(n.Node.Node).toBe(nodeName);
    expect(Object.keys(n.Services)).toEqual(["fweb-2"]);
    expect(await get(`/v1/catalog/node/nobody?${q(`Service == fweb`)}`)).toBeNull();
  });

  test("agent/services and agent/checks", async () => {
    const svcs = await get<Record<string, unknown>>(`/v1/agent/services?${q(`Service == fweb and Meta.env == staging`)}`);
    expect(Object.keys(svcs)).toEqual(["fweb-2"]);
    expect(Object.keys(await get(`/v1/agent/services?${q(`"primary" in Tags`)}`)).sort()).toEqual(["fdb-1", "fweb-1"]);
    const checks = await get<Record<string, unknown>>(`/v1/agent/checks?${q(`Status == critical and ServiceName matches "^f"`)}`);
    expect(Object.keys(checks)).toEqual(["service:fweb-2"]);
  });

  test("bad expressions: a 400 with the problem and its position on every endpoint", async () => {
    const paths = [
      "/v1/catalog/services", "/v1/catalog/service/fweb", "/v1/catalog/nodes", `/v1/catalog/node/${nodeName}`,
      "/v1/health/service/fweb", "/v1/health/checks/fweb", `/v1/health/node/${nodeName}`, "/v1/health/state/any",
      "/v1/agent/services", "/v1/agent/checks",
    ];
    for (const path of paths) {
      const r = await fetch(p.url + path + "?" + q(`Bogus == 1`));
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.headers.get("content-type") ?? "").toStartWith("text/plain");
      expect(await r.text()).toStartWith(`Invalid filter at 1:1: unknown selector "Bogus"`);
    }
    const cases: [string, string, string][] = [
      ["/v1/health/service/fweb", `Service.Port == "x"`, `Invalid filter at 1:17: "Service.Port" is a whole number; "x" is not`],
      ["/v1/health/service/fweb", `Service.Tags == primary`, `Invalid filter at 1:1: operator "==" is not supported on "Service.Tags", which is a list`],
      ["/v1/catalog/service/fweb", `ServiceName == fweb and (ServicePort == 1`, `Invalid filter at 1:25: unmatched "("`],
      ["/v1/catalog/service/fweb", `ServiceName matches "(?<name"`, `Invalid filter at 1:21: invalid regular expression`],
      ["/v1/catalog/service/fweb", `ServiceName == "unterminated`, `Invalid filter at 1:16: unterminated string literal`],
      ["/v1/agent/services", `service == fweb`, `Invalid filter at 1:1: unknown selector "service" (did you mean "Service"?)`],
      ["/v1/catalog/services", `ServiceName == ` + `"${"x".repeat(5000)}"`, `Invalid filter at 1:4097: filter expression longer than 4096 characters`],
    ];
    for (const [path, expr, text] of cases) {
      const r = await fetch(p.url + path + "?" + q(expr));
      expect(r.status).toBe(400);
      expect(await r.text()).toStartWith(text);
    }
    // The filter is checked before the request blocks.
    const t0 = Date.now();
    const held = await fetch(p.url + `/v1/health/service/fweb?index=999999&wait=5s&${q(`Nope == 1`)}`);
    expect(held.status).toBe(400);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("blocking: the index is the unfiltered result's, and a change to a filtered-out instance wakes the query", async () => {
    const path = `/v1/health/service/fweb?${q(`Checks.Status == critical`)}`;
    const first = await fetch(p.url + path);
    expect(ids((await first.json()) as any[])).toEqual(["fweb-2"]);
    expect(index(first)).toBe(index(await fetch(p.url + "/v1/health/service/fweb")));
    const held = fetch(p.url + path + `&index=${index(first)}&wait=10s`);
    await Bun.sleep(300);
    const t0 = Date.now();
    expect((await put("/v1/agent/check/pass/service:fweb-2")).status).toBe(200);
    const r = await held;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(index(r)).toBeGreaterThan(index(first));
    expect(await r.json()).toEqual([]);
    // An unrelated write leaves the filtered query's index alone.
    await put("/v1/kv/filter-unrelated", "x");
    expect(index(await fetch(p.url + path))).toBe(index(r));
    await put("/v1/agent/check/fail/service:fweb-2");
  });

  test("the npm consul client forwards `filter`", async () => {
    const consul = consulClient(p.url);
    const entries = (await consul.health.service({ service: "fweb", filter: `Service.Meta.env == "prod"` })) as { Service: { ID: string } }[];
    expect(ids(entries)).toEqual(["fweb-1"]);
    const nodes = (await consul.catalog.service.nodes({ service: "fweb", filter: `"v2" in ServiceTags` })) as { ServiceID: string }[];
    expect(ids(nodes)).toEqual(["fweb-2"]);
    const services = await consul.catalog.service.list({ filter: `ServiceMeta.env == prod and ServiceName == fdb` });
    expect(services).toEqual({ fdb: ["primary"] });
    const mine = (await consul.agent.service.list({ filter: `Port == 5432` })) as Record<string, unknown>;
    expect(Object.keys(mine)).toEqual(["fdb-1"]);
    const crit = (await consul.health.state({ state: "critical", filter: `ServiceID == "fweb-2"` })) as { CheckID: string }[];
    expect(crit.map((c) => c.CheckID)).toEqual(["service:fweb-2"]);
    // A bad expression rejects the promise with the 400.
    const err = await consul.health.service({ service: "fweb", filter: `Nope == 1` }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { response?: { statusCode: number } }).response?.statusCode).toBe(400);
    // With the response: the same index as the unfiltered query.
    const w = await withResponse<unknown[]>((o) => consul.health.service({ service: "fweb", filter: `Service.Port == 1`, ...o }));
    expect(w.body).toEqual([]);
    expect(Number(w.index)).toBe(index(await fetch(p.url + "/v1/health/service/fweb")));
  });
});
