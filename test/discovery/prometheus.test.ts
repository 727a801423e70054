// Prometheus consul_sd_configs, replayed (reference §10: Debian's Prometheus
// is built without Consul SD). The exact request sequence of Prometheus
// v2.42.0 with consul/api v1.18.0, the Go client's decoding rules (a
// violation fails the whole call there), and the __meta_consul_* labels
// built as discovery/consul/consul.go builds them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, type CorralProcess } from "../helpers/proc.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev" });
});
afterAll(killAll);

/** What the Go client reads from every blocking response (api.parseQueryMeta). */
function queryMeta(r: Response) {
  const index = r.headers.get("x-consul-index") ?? "";
  const lastContact = r.headers.get("x-consul-lastcontact") ?? "";
  const knownLeader = r.headers.get("x-consul-knownleader") ?? "";
  expect(index).toMatch(/^[1-9]\d*$/); // ParseUint, and 0 would read as "no update" (B6)
  expect(lastContact).toMatch(/^\d+$/);
  expect(knownLeader).toMatch(/^(true|false)$/);
  expect(r.headers.get("content-type")).toStartWith("application/json");
  return { lastIndex: BigInt(index) };
}

const isStrMap = (v: unknown) =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
const isIndex = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** json.Unmarshal into []*api.ServiceEntry: the fields Prometheus needs, with Go's type rules. */
function goDecodeServiceEntries(body: unknown): any[] {
  expect(Array.isArray(body)).toBe(true);
  for (const e of body as any[]) {
    expect(Number.isInteger(e.Service.Port) && e.Service.Port >= 0).toBe(true);
    expect(e.Service.Tags === null || (Array.isArray(e.Service.Tags) && e.Service.Tags.every((t: unknown) => typeof t === "string"))).toBe(true);
    expect(isStrMap(e.Service.Meta)).toBe(true);
    expect(isStrMap(e.Node.Meta)).toBe(true);
    expect(isStrMap(e.Node.TaggedAddresses)).toBe(true);
    for (const a of Object.values(e.Service.TaggedAddresses as Record<string, any>)) {
      expect(typeof a.Address === "string" && Number.isInteger(a.Port)).toBe(true);
    }
    for (const v of [e.Node.CreateIndex, e.Node.ModifyIndex, e.Service.CreateIndex, e.Service.ModifyIndex]) expect(isIndex(v)).toBe(true);
    for (const c of e.Checks) {
      expect(typeof c.Status).toBe("string");
      expect(isIndex(c.CreateIndex) && isIndex(c.ModifyIndex)).toBe(true);
    }
  }
  return body as any[];
}

/** api.HealthChecks.AggregatedStatus: maintenance > critical > warning > passing. */
function aggregatedStatus(checks: { CheckID: string; Status: string }[]): string {
  let passing = false, warning = false, critical = false, maintenance = false;
  for (const c of checks) {
    if (c.CheckID === "_node_maintenance" || c.CheckID.startsWith("_service_maintenance:")) { maintenance = true; continue; }
    if (c.Status === "passing") passing = true;
    else if (c.Status === "warning") warning = true;
    else if (c.Status === "critical") critical = true;
    else return "";
  }
  if (maintenance) return "maintenance";
  if (critical) return "critical";
  if (warning) return "warning";
  if (passing) return "passing";
  return "passing";
}

const sanitize = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, "_");

/** discovery/consul/consul.go (v2.42.0) consulService.watch → target labels. */
function targetLabels(e: any, service: string, dc: string): Record<string, string> {
  const host = e.Service.Address !== "" ? e.Service.Address : e.Node.Address;
  const labels: Record<string, string> = {
    __address__: host.includes(":") ? `[${host}]:${e.Service.Port}` : `${host}:${e.Service.Port}`,
    __meta_consul_address: e.Node.Address,
    __meta_consul_node: e.Node.Node,
    __meta_consul_namespace: e.Service.Namespace ?? "",
    __meta_consul_partition: e.Service.Partition ?? "",
    __meta_consul_tags: "," + (e.Service.Tags ?? []).join(",") + ",",
    __meta_consul_service_address: e.Service.Address,
    __meta_consul_service_port: String(e.Service.Port),
    __meta_consul_service_id: e.Service.ID,
    __meta_consul_health: aggregatedStatus(e.Checks),
    __meta_consul_service: service,
    __meta_consul_dc: dc,
  };
  for (const [k, v] of Object.entries(e.Node.Meta as Record<string, string>)) labels[`__meta_consul_metadata_${sanitize(k)}`] = v;
  for (const [k, v] of Object.entries(e.Service.Meta as Record<string, string>)) labels[`__meta_consul_service_metadata_${sanitize(k)}`] = v;
  for (const [k, v] of Object.entries(e.Node.TaggedAddresses as Record<string, string>)) labels[`__meta_consul_tagged_address_${sanitize(k)}`] = v;
  return labels;
}

const put = (path: string, body?: unknown) => fetch(p.url + path, { method: "PUT", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
// consul/api sends these headers; Prometheus adds nothing else by default.
const goGet = (path: string, init: RequestInit = {}) => fetch(p.url + path, { ...init, headers: { "User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip" } });

describe("Prometheus consul_sd replay", () => {
  test("agent/self, catalog/services, per-service health/service: decoding and labels", async () => {
    expect((await put("/v1/agent/service/register", { Name: "prom-web", ID: "prom-web-1", Tags: ["web", "v1"], Port: 8080, Meta: { version: "1.2", "team": "a" }, Check: { TTL: "5m", Status: "passing" } })).status).toBe(200);
    expect((await put("/v1/agent/service/register", { Name: "prom-web", ID: "prom-web-2", Tags: ["web"], Port: 8081, Check: { TTL: "5m", Status: "passing" } })).status).toBe(200);
    expect((await put("/v1/agent/service/maintenance/prom-web-2?enable=true")).status).toBe(200);
    expect((await put("/v1/agent/service/register", { Name: "prom-db", Address: "10.0.0.7", Port: 5432, Check: { TTL: "5m", Status: "warning" } })).status).toBe(200);

    // 1. No datacenter configured: agent/self, Config.Datacenter must be a string; every top-level value an object.
    const self = (await (await goGet("/v1/agent/self")).json()) as Record<string, any>;
    for (const v of Object.values(self)) expect(typeof v === "object" && v !== null && !Array.isArray(v)).toBe(true);
    expect(typeof self.Config.Datacenter).toBe("string");
    const dc = self.Config.Datacenter as string;
    const nodeName = self.Config.NodeName as string;

    // 2. The catalog watch, first call without an index.
    const cat = await goGet("/v1/catalog/services?stale=&wait=120000ms");
    expect(cat.status).toBe(200);
    const { lastIndex } = queryMeta(cat);
    const names = (await cat.json()) as Record<string, string[]>;
    for (const tags of Object.values(names)) expect(Array.isArray(tags) && tags.every((t) => typeof t === "string")).toBe(true);
    expect(names["prom-web"]).toEqual(["v1", "web"]);
    expect(names["prom-db"]).toEqual([]);
    expect(lastIndex).toBeGreaterThan(0n);

    // 3. One watcher per service: health/service without ?passing (critical ones included).
    const targets: Record<string, string>[] = [];
    for (const service of ["prom-db", "prom-web"]) {
      const r = await goGet(`/v1/health/service/${service}?stale=&wait=120000ms`);
      queryMeta(r);
      for (const e of goDecodeServiceEntries(await r.json())) targets.push(targetLabels(e, service, dc));
    }
    const nodeLabels = {
      __meta_consul_address: "127.0.0.1", __meta_consul_node: nodeName, __meta_consul_dc: "dc1",
      __meta_consul_namespace: "", __meta_consul_partition: "",
      __meta_consul_tagged_address_lan: "127.0.0.1", __meta_consul_tagged_address_lan_ipv4: "127.0.0.1",
      __meta_consul_tagged_address_wan: "127.0.0.1", __meta_consul_tagged_address_wan_ipv4: "127.0.0.1",
    };
    expect(targets).toEqual([
      {
        ...nodeLabels, __address__: "10.0.0.7:5432", __meta_consul_service: "prom-db", __meta_consul_service_id: "prom-db",
        __meta_consul_service_address: "10.0.0.7", __meta_consul_service_port: "5432", __meta_consul_tags: ",,", __meta_consul_health: "warning",
      },
      {
        ...nodeLabels, __address__: "127.0.0.1:8080", __meta_consul_service: "prom-web", __meta_consul_service_id: "prom-web-1",
        __meta_consul_service_address: "", __meta_consul_service_port: "8080", __meta_consul_tags: ",web,v1,", __meta_consul_health: "passing",
        __meta_consul_service_metadata_version: "1.2", __meta_consul_service_metadata_team: "a",
      },
      {
        ...nodeLabels, __address__: "127.0.0.1:8081", __meta_consul_service: "prom-web", __meta_consul_service_id: "prom-web-2",
        __meta_consul_service_address: "", __meta_consul_service_port: "8081", __meta_consul_tags: ",web,", __meta_consul_health: "maintenance",
      },
    ]);
  });

  test("a blocking catalog/services call with the returned index holds until a service is added", async () => {
    const first = await goGet("/v1/catalog/services?stale=&wait=120000ms");
    const { lastIndex } = queryMeta(first);
    await first.text();
    let answeredAt = 0;
    const pending = goGet(`/v1/catalog/services?stale=&wait=120000ms&index=${lastIndex}`).then(async (r) => {
      answeredAt = Date.now();
      return { meta: queryMeta(r), body: (await r.json()) as Record<string, string[]> };
    });
    // Unrelated writes (a check status, a KV key) must not wake it with the same data (B5).
    await Bun.sleep(700);
    await put("/v1/agent/check/fail/service:prom-web-1");
    await fetch(p.url + "/v1/kv/noise", { method: "PUT", body: "x" });
    await Bun.sleep(800);
    expect(answeredAt).toBe(0);
    const addedAt = Date.now();
    expect((await put("/v1/agent/service/register", { Name: "prom-new", Port: 1 })).status).toBe(200);
    const r = await pending;
    expect(answeredAt - addedAt).toBeLessThan(1000);
    expect(r.meta.lastIndex).toBeGreaterThan(lastIndex);
    expect(r.body["prom-new"]).toEqual([]);
  });

  test("a health/service watcher's index moves on its service's changes only", async () => {
    const r0 = await goGet("/v1/health/service/prom-db?stale=&wait=120000ms");
    const { lastIndex } = queryMeta(r0);
    await r0.text();
    let answeredAt = 0;
    const pending = goGet(`/v1/health/service/prom-db?stale=&wait=120000ms&index=${lastIndex}`).then(async (r) => {
      answeredAt = Date.now();
      return { meta: queryMeta(r), body: goDecodeServiceEntries(await r.json()) };
    });
    await Bun.sleep(300);
    await put("/v1/agent/check/pass/service:prom-web-1"); // another service
    await put("/v1/agent/check/warn/service:prom-db?note=same-status"); // same status, new output
    await Bun.sleep(700);
    expect(answeredAt).toBe(0);
    const changedAt = Date.now();
    await put("/v1/agent/check/fail/service:prom-db");
    const r = await pending;
    expect(answeredAt - changedAt).toBeLessThan(1000);
    expect(r.meta.lastIndex).toBeGreaterThan(lastIndex);
    expect(aggregatedStatus(r.body[0].Checks)).toBe("critical");
  });
});
