// The discovery plugin on a real dev process: the npm `consul` client flow,
// response shapes of every endpoint, B5 (no spurious index bumps), input
// validation (Consul-style text errors, never a 5xx), TTL expiry, reaping,
// maintenance, and the CLI commands.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { runConsulClientFlow } from "./consul-flow.ts";
import { expectShape, SHAPES } from "./shapes.ts";
import { corralEach } from "../helpers/cli-batch.ts";

let p: CorralProcess;
beforeAll(async () => {
  p = await startCorral({ role: "dev", config: `[plugins.discovery]\nsync_interval = "1s"\n` });
});
afterAll(killAll);

const put = (path: string, body?: unknown) =>
  fetch(p.url + path, {
    method: "PUT", body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    headers: body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {},
  });
const index = (r: Response | { headers: Headers }) => Number(r.headers.get("x-consul-index"));
async function expectText(r: Response, status: number, text: string | RegExp) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type") ?? "").toStartWith("text/plain");
  const body = await r.text();
  if (typeof text === "string") expect(body).toBe(text);
  else expect(body).toMatch(text);
}

describe("discovery on a dev node", () => {
  test("the npm consul client: register, list, TTL pass/fail, watch, deregister", async () => {
    const r = await runConsulClientFlow(p.url);
    expect(r.watchLatencyMs).toBeLessThan(1000);
  }, 30_000);

  test("response shapes of every endpoint (field names and types)", async () => {
    expect((await put("/v1/agent/service/register", {
      Name: "shape", ID: "shape-1", Tags: ["a"], Port: 80, Address: "10.1.2.3", Meta: { k: "v" },
      TaggedAddresses: { lan: { Address: "10.1.2.3", Port: 80 } }, Weights: { Passing: 3, Warning: 1 },
      Checks: [{ TTL: "30s" }, { HTTP: "http://127.0.0.1:1/health", Interval: "10s", Timeout: "1s" }],
    })).status).toBe(200);
    const nodeName = (await getJson(p.url + "/v1/agent/self")).body.Config.NodeName;
    const get = async (path: string) => (await getJson(p.url + path)).body;
    for (const [route, shape] of Object.entries(SHAPES)) {
      const path = route.slice(4).replace(":id", "shape-1").replace(":name", "shape").replace(":node", nodeName).replace(":state", "any");
      const body = await get(path);
      if (Array.isArray(body)) expect(body.length).toBeGreaterThan(0);
      expectShape(body, shape);
    }
    const entry = (await get("/v1/health/service/shape"))[0];
    expect(entry.Service).toMatchObject({ Address: "10.1.2.3", Weights: { Passing: 3, Warning: 1 }, TaggedAddresses: { lan: { Address: "10.1.2.3", Port: 80 } } });
    expect(entry.Checks.map((c: any) => [c.CheckID, c.Type, c.Status])).toEqual([
      ["serfHealth", "", "passing"], ["service:shape-1:1", "ttl", "critical"], ["service:shape-1:2", "http", "critical"],
    ]);
    expect(entry.Checks[2].Definition).toEqual({ HTTP: "http://127.0.0.1:1/health", Interval: "10s", Timeout: "1s" });
    // §4.4: every top-level value of agent/self is an object.
    const self = await get("/v1/agent/self");
    for (const v of Object.values(self)) expect(typeof v === "object" && v !== null && !Array.isArray(v)).toBe(true);
    expect(self.Config).toMatchObject({ Datacenter: "dc1", PrimaryDatacenter: "dc1", Server: true, Revision: "" });
    await put("/v1/agent/service/deregister/shape-1");
  });

  test("B5: re-passing with the same status moves no index; a blocking call on it waits", async () => {
    await put("/v1/agent/service/register", { Name: "b5", Check: { TTL: "60s", Status: "passing" } });
    const first = await fetch(p.url + "/v1/health/service/b5");
    await put("/v1/agent/check/pass/service:b5");
    await put("/v1/agent/check/pass/service:b5?note=new%20output");
    await put("/v1/kv/unrelated", "x");
    const again = await fetch(p.url + "/v1/health/service/b5");
    expect(index(again)).toBe(index(first));
    const t0 = Date.now();
    const held = await fetch(p.url + `/v1/health/service/b5?index=${index(first)}&wait=1s`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(index(held)).toBe(index(first));
    // A status change moves it.
    await put("/v1/agent/check/warn/service:b5");
    expect(index(await fetch(p.url + "/v1/health/service/b5"))).toBeGreaterThan(index(first));
    await put("/v1/agent/service/deregister/b5");
  });

  test("register validation: Consul-style text 400s, never a 5xx", async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /^Missing service name$/],
      [{ Name: "x", Port: "80" }, /Port/],
      [{ Name: "x", Tags: [1] }, /Tags/],
      [{ Name: "x", Meta: { k: 1 } }, /Meta/],
      [{ Name: "x", Meta: { "bad key": "v" } }, /invalid characters/],
      [{ Name: "x", Check: { Args: ["/bin/true"], Interval: "10s" } }, /^script checks are disabled on this agent; to allow Args checks set plugins.health.enable_exec_checks = true$/],
      [{ Name: "x", Check: { Script: "true", Interval: "10s" } }, /script checks are disabled/],
      [{ Name: "x", Check: { H2PING: "127.0.0.1:1", Interval: "10s" } }, /H2PING checks are not supported/],
      [{ Name: "x", Check: { GRPC: "no-port/svc", Interval: "10s" } }, /GRPC must be "host:port" or "host:port\/service"/],
      [{ Name: "x", Check: { GRPC: "127.0.0.1:9000", TCP: "x:1", Interval: "10s" } }, /Only one of Args, HTTP, TCP or GRPC/],
      [{ Name: "x", Check: { HTTP: "http://x" } }, /Interval must be > 0/],
      [{ Name: "x", Check: { HTTP: "http://x", TCP: "x:1", Interval: "1s" } }, /Only one of HTTP or TCP/],
      [{ Name: "x", Check: {} }, /TTL must be > 0/],
      [{ Name: "x", Check: { TTL: "ten" } }, /invalid duration/],
      [{ Name: "x", Check: { TTL: "10s", Status: "ok" } }, /Status for checks/],
      [{ Name: "x", Checks: {} }, /Checks must be an array/],
      [{ Name: "x", Connect: { Native: true } }, /not supported/],
      [{ Name: "x", Port: 70000 }, /Port/],
      [[1, 2], /JSON object/],
      ["{not json", /Request decode failed/],
      ["", /Request decode failed: EOF/],
      [{ Name: "x".repeat(300) }, /Name/],
    ];
    for (const [body, msg] of cases) await expectText(await put("/v1/agent/service/register", body), 400, msg);
    const huge = await put("/v1/agent/service/register", { Name: "x", Meta: { k: "v".repeat(2 * 1024 * 1024) } });
    expect(huge.status).toBe(413);
    // snake_case and odd casing are Consul's too.
    expect((await put("/v1/agent/service/register", { name: "snake", ID: "snake-1", enable_tag_override: true, CHECK: { ttl: "5m" } })).status).toBe(200);
    expect((await getJson(p.url + "/v1/agent/service/snake-1")).body.EnableTagOverride).toBe(true);
    await put("/v1/agent/service/deregister/snake-1");
  });

  test("IDs with %2F and %3A, wrong methods, unknown IDs, non-TTL checks", async () => {
    expect((await put("/v1/agent/service/register", { Name: "odd", ID: "odd/one", Checks: [{ TTL: "60s" }, { TCP: "127.0.0.1:1", Interval: "10s" }] })).status).toBe(200);
    expect((await put("/v1/agent/check/pass/service%3Aodd%2Fone:1")).status).toBe(200);
    expect((await getJson(p.url + "/v1/agent/checks")).body["service:odd/one:1"].Status).toBe("passing");
    await expectText(await put("/v1/agent/check/pass/service:odd%2Fone:2"), 500, 'CheckID "service:odd/one:2" does not have associated TTL');
    await expectText(await put("/v1/agent/check/fail/nope"), 404, 'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.');
    await expectText(await put("/v1/agent/service/deregister/nope"), 404, /^Unknown service ID "nope"/);
    expect((await fetch(p.url + "/v1/agent/service/register")).status).toBe(405);
    expect((await fetch(p.url + "/v1/agent/services", { method: "PUT" })).status).toBe(405);
    expect((await fetch(p.url + "/v1/catalog/services", { method: "DELETE" })).status).toBe(405);
    expect((await fetch(p.url + "/v1/agent/check/pass/x", { method: "POST" })).status).toBe(405);
    expect((await put("/v1/agent/service/deregister/odd%2Fone")).status).toBe(200);
    expect((await getJson(p.url + "/v1/agent/services")).body["odd/one"]).toBeUndefined();
  });

  test("query errors: passing, state, wait, index, dc, filter; tokens are accepted", async () => {
    await expectText(await fetch(p.url + "/v1/health/service/x?passing=maybe"), 400, "Invalid value for ?passing");
    await expectText(await fetch(p.url + "/v1/health/state/"), 400, "Missing check state");
    expect((await fetch(p.url + "/v1/health/state/bogus")).status).toBe(400);
    await expectText(await fetch(p.url + "/v1/catalog/services?wait=10"), 400, "Invalid wait time");
    await expectText(await fetch(p.url + "/v1/catalog/services?index=abc"), 400, "Invalid index");
    await expectText(await fetch(p.url + "/v1/catalog/services?dc=elsewhere"), 500, "No path to datacenter");
    expect((await fetch(p.url + "/v1/catalog/services?dc=dc1")).status).toBe(200);
    // catalog/services filters ServiceNodes (filter-dev.test.ts has the rest).
    await expectText(await fetch(p.url + "/v1/catalog/services?filter=Service%20%3D%3D%20x"), 400, /^Invalid filter at 1:1: unknown selector "Service"/);
    expect((await fetch(p.url + "/v1/catalog/service/x?stale&consistent")).status).toBe(400);
    expect(await (await fetch(p.url + "/v1/catalog/service/unknown")).json()).toEqual([]);
    expect(await (await fetch(p.url + "/v1/catalog/node/unknown")).json()).toBeNull();
    for (const init of [{ headers: { "X-Consul-Token": "t" } }, { headers: { Authorization: "Bearer t" } }, {}] as RequestInit[]) {
      expect((await fetch(p.url + "/v1/catalog/services?token=t", init)).status).toBe(200);
    }
    expect((await fetch(p.url + "/v1/health/service/x?passing=false&tag=a&tag=b&stale=&cached&near=_agent")).status).toBe(200);
  });

  test("a TTL check with no update turns critical with Output 'TTL expired'", async () => {
    await put("/v1/agent/service/register", { Name: "ttl", Check: { TTL: "500ms", Status: "passing" } });
    const c = await eventually(async () => {
      const r = (await getJson<any[]>(p.url + "/v1/health/checks/ttl")).body;
      return r[0]?.Status === "critical" && r[0];
    }, 3000);
    expect(c.Output).toBe("TTL expired");
    expect((await getJson(p.url + "/v1/agent/checks")).body["service:ttl"].Output).toBe("TTL expired");
    await put("/v1/agent/service/deregister/ttl");
  });

  test("maintenance checks, and DeregisterCriticalServiceAfter reaps a service", async () => {
    await put("/v1/agent/service/register", { Name: "mnt", Check: { TTL: "60s", Status: "passing" } });
    expect((await put("/v1/agent/service/maintenance/mnt?enable=true&reason=upgrade")).status).toBe(200);
    let checks = (await getJson<any[]>(p.url + "/v1/health/checks/mnt")).body;
    expect(checks.find((c) => c.CheckID === "_service_maintenance:mnt")).toMatchObject({ Status: "critical", Notes: "upgrade" });
    expect((await getJson<any[]>(p.url + "/v1/health/service/mnt?passing")).body).toEqual([]);
    expect((await put("/v1/agent/service/maintenance/mnt?enable=false")).status).toBe(200);
    checks = (await getJson<any[]>(p.url + "/v1/health/checks/mnt")).body;
    expect(checks.map((c) => c.CheckID)).toEqual(["service:mnt"]);
    expect((await put("/v1/agent/service/maintenance/mnt")).status).toBe(400);
    await put("/v1/agent/service/deregister/mnt");

    await put("/v1/agent/service/register", { Name: "reap", Check: { TTL: "60s", DeregisterCriticalServiceAfter: "100ms" } });
    await eventually(async () => (await getJson<any[]>(p.url + "/v1/catalog/service/reap")).body.length === 0, 10_000, 200);
    expect((await getJson(p.url + "/v1/agent/services")).body.reap).toBeUndefined();
  }, 20_000);

  test("standalone checks; re-register keeps check status; replace-existing-checks drops the rest", async () => {
    await put("/v1/agent/service/register", { Name: "re", Checks: [{ CheckID: "c1", TTL: "60s" }, { CheckID: "c2", TTL: "60s" }] });
    await put("/v1/agent/check/pass/c1");
    await put("/v1/agent/service/register", { Name: "re", Port: 81, Checks: [{ CheckID: "c1", TTL: "60s" }] });
    let checks = (await getJson(p.url + "/v1/agent/checks")).body;
    expect(checks.c1.Status).toBe("passing");
    expect(checks.c2).toBeDefined();
    await put("/v1/agent/service/register?replace-existing-checks", { Name: "re", Port: 81, Checks: [{ CheckID: "c1", TTL: "60s" }] });
    expect((await getJson(p.url + "/v1/agent/checks")).body.c2).toBeUndefined();
    expect((await getJson<any[]>(p.url + "/v1/health/checks/re")).body.map((c) => c.CheckID)).toEqual(["c1"]);

    expect((await put("/v1/agent/check/register", { Name: "disk", TTL: "60s", Status: "warning" })).status).toBe(200);
    await expectText(await put("/v1/agent/check/register", { Name: "x", TTL: "1m", ServiceID: "ghost" }), 400, 'ServiceID "ghost" does not exist');
    const nodeName = (await getJson(p.url + "/v1/agent/self")).body.Config.NodeName;
    const nodeChecks = (await getJson<any[]>(p.url + `/v1/health/node/${nodeName}`)).body;
    expect(nodeChecks.find((c) => c.CheckID === "disk")).toMatchObject({ Status: "warning", ServiceID: "", ServiceName: "" });
    // A node-level warning makes every instance on the node fail ?passing.
    expect((await getJson<any[]>(p.url + "/v1/health/service/re")).body).toHaveLength(1);
    expect((await getJson<any[]>(p.url + "/v1/health/service/re?passing")).body).toEqual([]);
    expect((await put("/v1/agent/check/update/disk", { Status: "passing", Output: "ok" })).status).toBe(200);
    expect((await getJson(p.url + "/v1/agent/checks")).body.disk).toMatchObject({ Status: "passing", Output: "ok" });
    expect((await put("/v1/agent/check/update/disk", { Status: "bogus" })).status).toBe(400);
    expect((await put("/v1/agent/check/deregister/disk")).status).toBe(200);
    expect((await getJson<any[]>(p.url + "/v1/health/state/any")).body.find((c) => c.CheckID === "disk")).toBeUndefined();
    await put("/v1/agent/service/deregister/re");
  });
});

describe("anti-entropy on an idle node", () => {
  test("periodic full syncs compare digests and write nothing when the catalog agrees", async () => {
    await put("/v1/agent/service/register", { Name: "idle", Check: { TTL: "5m", Status: "passing" } });
    await put("/v1/agent/check/pass/service:idle?note=output-only");
    const applied = async () => Number((await fetch(p.url + "/v1/nodes")).headers.get("x-corral-index"));
    // The first sync after the output-only change writes it (the digest differs), then nothing more.
    await Bun.sleep(1500);
    const a = await applied();
    await Bun.sleep(2500);
    expect(await applied()).toBe(a);
    expect((await getJson<any[]>(p.url + "/v1/health/checks/idle")).body[0].Output).toBe("output-only");
    const nodeId = (await getJson(p.url + "/v1/agent/self")).body.Config.NodeID;
    expect((await getJson(p.url + `/v1/discovery/digest/${nodeId}`)).body).toMatchObject({ node: nodeId, services: 1, checks: 1 });
    await put("/v1/agent/service/deregister/idle");
  });
});

describe("plugin lifecycle", () => {
  test("disable releases the routes; enable resumes from the node's registry file", async () => {
    await put("/v1/agent/service/register", { Name: "persist", Check: { TTL: "5m", Status: "passing" } });
    const toggle = (enabled: boolean) =>
      getJson(p.url + "/v1/plugins/discovery", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled }) });
    const held = async () => (await getJson(p.url + "/v1/agent/self")).body.corral.pluginResources;
    const before = await held();
    expect((await toggle(false)).body.state).toBe("disabled");
    expect((await fetch(p.url + "/v1/agent/services")).status).toBe(404);
    const after = await held();
    expect(after.routes).toBeLessThan(before.routes);
    expect(after.timers).toBeLessThan(before.timers);
    expect(after.subscriptions).toBeLessThan(before.subscriptions);
    expect((await toggle(true)).body.state).toBe("enabled");
    expect((await getJson(p.url + "/v1/agent/services")).body.persist).toBeDefined();
    expect((await getJson<any[]>(p.url + "/v1/health/service/persist?passing")).body).toHaveLength(1);
    await put("/v1/agent/service/deregister/persist");
  });
});

describe("CLI", () => {
  /** The real CLI against the dev node (`--addr`); independent invocations side by side (test/helpers/cli-batch.ts). */
  const corralSideBySide = <const L extends readonly string[][]>(...calls: L) =>
    corralEach(calls.map((args) => [...args, "--addr", p.url]) as { -readonly [K in keyof L]: string[] });

  test("service register (TOML and JSON), services, catalog nodes, service deregister", async () => {
    const dir = tempDir();
    const toml = join(dir, "api.toml");
    writeFileSync(toml, `[service]\nname = "api"\nid = "api-1"\ntags = ["v2", "blue"]\nport = 9090\n\n[service.check]\nttl = "60s"\nstatus = "passing"\n`);
    const json = join(dir, "api2.json");
    writeFileSync(json, JSON.stringify({ Name: "api", ID: "api-2", Port: 9091, Check: { TTL: "60s" } }));
    const [regToml, regJson] = await corralSideBySide(["service", "register", toml], ["service", "register", json]);
    expect(regToml).toMatchObject({ code: 0, out: "Registered service api-1 (api)\n" });
    expect(regJson.code).toBe(0);
    const [table, servicesJson, nodes, nodesJson] = await corralSideBySide(["services"], ["services", "--json"], ["catalog", "nodes"], ["catalog", "nodes", "--json"]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/SERVICE\s+PASSING\s+WARNING\s+CRITICAL\s+TAGS/);
    expect(table.out).toMatch(/api\s+1\s+0\s+1\s+blue,v2/);
    const asJson = JSON.parse(servicesJson.out);
    expect(asJson.find((s: any) => s.name === "api")).toEqual({ name: "api", tags: ["blue", "v2"], passing: 1, warning: 0, critical: 1 });
    expect(nodes.out).toMatch(/NODE\s+ID\s+ADDRESS\s+DC/);
    expect(JSON.parse(nodesJson.out)[0].Datacenter).toBe("dc1");
    const [dereg1, dereg2] = await corralSideBySide(["service", "deregister", "api-1"], ["service", "deregister", "api-2"]);
    expect(dereg1).toMatchObject({ code: 0, out: "Deregistered service api-1\n" });
    expect(dereg2.code).toBe(0);
  }, 120_000);

  test("failures exit non-zero with the server's message", async () => {
    const bad = join(tempDir(), "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "x", check: { args: ["true"], interval: "1s" } }));
    const [r, neverRegistered, noFile, noArg, help] = await corralSideBySide(
      ["service", "register", bad],
      ["service", "deregister", "never-registered"],
      ["service", "register", "/nonexistent.json"],
      ["service", "register"],
      ["services", "--help"],
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("script checks are disabled");
    expect(neverRegistered.code).toBe(1);
    expect(noFile.code).toBe(1);
    expect(noArg.code).toBe(2);
    expect(help.out).toContain("Usage: corral services");
  }, 120_000);
});
