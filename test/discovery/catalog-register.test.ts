// PUT /v1/catalog/register and /deregister on real processes: an external
// node with a service and checks appears in the catalog, health and DNS
// answers; registering again updates the same node; deregistering a check,
// a service and the node removes each; the npm consul client's catalog
// calls work; bad bodies are clear 400s; with ACLs on, node and service
// write are both needed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Consul from "consul";
import { freePort, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { udpQuery } from "../dns/wire.ts";

let dev: CorralProcess;
let dnsPort = 0;
afterAll(killAll);

beforeAll(async () => {
  dnsPort = await freePort();
  dev = await startCorral({ role: "dev", config: `[plugins.dns]\nport = ${dnsPort}\n` });
});

const put = async (path: string, body: unknown, token?: string) => {
  const r = await fetch(dev.url + path, { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json", ...(token ? { "x-consul-token": token } : {}) } });
  return { status: r.status, text: await r.text() };
};
type Entry = { Node: { ID: string; Node: string; Address: string }; Service: { ID: string; Service: string; Port: number; Tags: string[] }; Checks: { CheckID: string; Status: string }[] };

const external = {
  Node: "ext-db", Address: "10.9.9.9", Datacenter: "dc1",
  Service: { ID: "rds-1", Service: "rds", Port: 5432, Tags: ["primary"], Meta: { engine: "postgres" } },
  Checks: [
    { CheckID: "rds-alive", Name: "RDS reachable", Status: "passing", ServiceID: "rds-1" },
    { CheckID: "ext-db-ping", Name: "ping", Status: "passing" },
  ],
};

describe("catalog register / deregister", () => {
  test("an external node, its service and checks show in the catalog, health and DNS; re-registering updates the same node", async () => {
    expect(await put("/v1/catalog/register", external)).toEqual({ status: 200, text: "true" });
    const nodes = (await getJson<{ ID: string; Node: string; Address: string }[]>(`${dev.url}/v1/catalog/nodes`)).body;
    const ext = nodes.find((n) => n.Node === "ext-db")!;
    expect(ext.Address).toBe("10.9.9.9");
    const healthy = (await getJson<Entry[]>(`${dev.url}/v1/health/service/rds?passing`)).body;
    expect(healthy.map((e) => [e.Node.Node, e.Service.ID, e.Service.Port, e.Service.Tags])).toEqual([["ext-db", "rds-1", 5432, ["primary"]]]);
    expect(healthy[0]!.Checks.map((c) => c.CheckID).sort()).toEqual(["ext-db-ping", "rds-alive", "serfHealth"]);
    const a = await udpQuery(dnsPort, "primary.rds.service.corral", "A");
    expect((a.answers ?? []).map((x) => (x as { data: unknown }).data)).toEqual(["10.9.9.9"]);

    // Again, with the service check critical and a new address: the same node id, updated rows.
    const again = { ...external, Address: "10.9.9.10", Checks: [{ ...external.Checks[0], Status: "critical" }] };
    expect((await put("/v1/catalog/register", again)).status).toBe(200);
    const after = (await getJson<{ ID: string; Node: string; Address: string }[]>(`${dev.url}/v1/catalog/nodes`)).body.filter((n) => n.Node === "ext-db");
    expect(after.map((n) => [n.ID, n.Address])).toEqual([[ext.ID, "10.9.9.10"]]);
    expect((await getJson<Entry[]>(`${dev.url}/v1/health/service/rds?passing`)).body).toEqual([]);
    // The node check not named again is still there (register adds, it does not replace).
    const checks = (await getJson<{ CheckID: string }[]>(`${dev.url}/v1/health/node/ext-db`)).body.map((c) => c.CheckID).sort();
    expect(checks).toEqual(["ext-db-ping", "rds-alive", "serfHealth"]);
  });

  test("deregister a check, then the service, then the node", async () => {
    expect(await put("/v1/catalog/deregister", { Node: "ext-db", CheckID: "ext-db-ping" })).toEqual({ status: 200, text: "true" });
    expect((await getJson<{ CheckID: string }[]>(`${dev.url}/v1/health/node/ext-db`)).body.map((c) => c.CheckID).sort()).toEqual(["rds-alive", "serfHealth"]);
    expect((await put("/v1/catalog/deregister", { Node: "ext-db", ServiceID: "rds-1" })).status).toBe(200);
    expect((await getJson<unknown[]>(`${dev.url}/v1/catalog/service/rds`)).body).toEqual([]);
    expect((await put("/v1/catalog/deregister", { Node: "ext-db" })).status).toBe(200);
    expect((await getJson<{ Node: string }[]>(`${dev.url}/v1/catalog/nodes`)).body.map((n) => n.Node)).not.toContain("ext-db");
    expect((await getJson(`${dev.url}/v1/catalog/node/ext-db`)).body).toBeNull();
    // Nothing left to remove is still true, as in Consul.
    expect(await put("/v1/catalog/deregister", { Node: "ext-db" })).toEqual({ status: 200, text: "true" });
  });

  test("the npm consul client's catalog.register and catalog.deregister", async () => {
    const consul = new Consul({ host: "127.0.0.1", port: Number(new URL(dev.url).port) });
    await consul.catalog.register({ node: "ext-cache", address: "10.8.8.8", service: { service: "memcached", port: 11211 } } as never);
    const list = (await consul.catalog.service.nodes("memcached")) as { Node: string; ServicePort: number }[];
    expect(list.map((n) => [n.Node, n.ServicePort])).toEqual([["ext-cache", 11211]]);
    await consul.catalog.deregister({ node: "ext-cache" } as never);
    expect((await consul.catalog.service.nodes("memcached")) as unknown[]).toEqual([]);
  });

  test("bad bodies: clear 400s (and no path to another datacenter)", async () => {
    const bad: [unknown, number, string][] = [
      [{ Address: "10.0.0.1" }, 400, "Must provide node"],
      [{ Node: "x" }, 400, "Must provide address"],
      [{ Node: "x", Address: "10.0.0.1", NodeMeta: { "external-node": "true" } }, 400, "NodeMeta is not supported"],
      [{ Node: "x", Address: "10.0.0.1", ID: "not-a-uuid" }, 400, "Invalid node ID"],
      [{ Node: "x", Address: "10.0.0.1", Check: { CheckID: "c", ServiceID: "nope", Status: "passing" } }, 400, 'ServiceID "nope"'],
      [{ Node: "x", Address: "10.0.0.1", Check: { CheckID: "c", Status: "sleepy" } }, 400, "Status for checks"],
      [{ Node: "x", Address: "10.0.0.1", Service: { Port: 1 } }, 400, "Missing service name"],
      [{ Node: "x", Address: "10.0.0.1", Datacenter: "elsewhere" }, 500, "No path to datacenter"],
      [{ Node: "x", SkipNodeUpdate: true }, 400, "not in the catalog"],
      ["[]", 400, "body must be a JSON object"],
    ];
    for (const [body, status, text] of bad) {
      const r = await put("/v1/catalog/register", body);
      expect([r.status, r.text], JSON.stringify(body)).toEqual([status, expect.stringContaining(text)]);
    }
    expect((await put("/v1/catalog/deregister", { ServiceID: "a" })).text).toContain("Must provide node");
    expect((await getJson<{ Node: string }[]>(`${dev.url}/v1/catalog/nodes`)).body.map((n) => n.Node)).not.toContain("x");
  });
});

describe("with ACLs on", () => {
  let n: AclNode;
  beforeAll(async () => {
    n = await startAclNode();
  });

  test("node write on the node and service write on the service are both needed", async () => {
    const body = { Node: "ext-q", Address: "10.7.7.7", Service: { Service: "queue", Port: 5672 } };
    const nodeOnly = (await tokenWith(n, "node-only", 'node_prefix "ext-" { policy = "write" }')).secret;
    const both = (await tokenWith(n, "both", 'node_prefix "ext-" { policy = "write" }\nservice "queue" { policy = "write" }')).secret;
    expect((await call(n.url, "PUT", "/v1/catalog/register", undefined, body)).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/catalog/register", nodeOnly, body)).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/catalog/register", nodeOnly, { Node: "ext-q", Address: "10.7.7.7" })).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/catalog/register", both, body)).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/catalog/register", both, { Node: "other", Address: "10.7.7.8" })).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/catalog/deregister", nodeOnly, { Node: "ext-q", ServiceID: "queue" })).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/catalog/deregister", both, { Node: "ext-q", ServiceID: "queue" })).status).toBe(200);
  });
});
