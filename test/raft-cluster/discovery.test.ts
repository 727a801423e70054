// Service discovery on three leader-role processes: the unmodified npm
// `consul` client runs its whole flow against a follower, then again after
// the active leader is killed -9; registrations survive the failover, and
// node's DNS resolver finds the services through the dns plugin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Resolver } from "node:dns/promises";
import { TestCluster } from "../helpers/cluster.ts";
import { eventually, getJson, freePort } from "../helpers/proc.ts";
import { runConsulClientFlow } from "../discovery/consul-flow.ts";

let c: TestCluster;
const dnsPorts: number[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) dnsPorts.push(await freePort());
  c = new TestCluster({ size: 3, electionTimeoutMs: 500, heartbeatMs: 50 });
  // Each node's DNS on a known port of its own.
  c.config = ((orig) => (i: number) => orig(i) + `\n[plugins.dns]\nport = ${dnsPorts[i]}\n`)(c.config.bind(c));
  await c.start();
  await c.waitLeader();
}, 60_000);
afterAll(() => c?.stop());

describe("discovery on a Raft cluster", () => {
  test("the consul client flow through a follower, and again after the leader is killed", async () => {
    const leader = await c.waitLeader();
    const follower = c.nodes.find((n) => n.index !== leader)!;
    const first = await runConsulClientFlow(follower.url, { keep: true, settleMs: 5000 });
    expect(first.watchLatencyMs).toBeLessThan(1000);

    await c.kill(leader);
    await c.waitLeader();
    // The registration made before the kill is still in the catalog.
    const services = await eventually(async () => {
      const r = await getJson(follower.url + "/v1/catalog/services");
      return r.status === 200 && r.body[first.service] && r.body;
    }, 5000);
    expect(Object.keys(services)).toContain(first.service);
    const second = await runConsulClientFlow(follower.url, { settleMs: 5000 });
    expect(second.watchLatencyMs).toBeLessThan(1000);
    await c.startNode(leader);
  }, 90_000);

  test("the dns plugin answers A and SRV for a registered service from the replicated catalog", async () => {
    const node = c.nodes[await c.waitLeader()]!;
    const reg = await fetch(node.url + "/v1/agent/service/register", {
      method: "PUT", headers: { "content-type": "application/json" },
      body: JSON.stringify({ ID: "api-1", Name: "api", Tags: ["v2"], Address: "127.0.0.10", Port: 8080 }),
    });
    expect(reg.status).toBe(200);
    for (const [i, n] of c.nodes.entries()) {
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${dnsPorts[i]}`]);
      const a = await eventually(async () => {
        const got = await r.resolve4("api.service.corral").catch(() => []);
        return got.length > 0 && got;
      }, 5000);
      expect(a).toEqual(["127.0.0.10"]);
      const srv = await r.resolveSrv("_api._v2.service.corral");
      expect(srv[0]!.port).toBe(8080);
      await expect(r.resolve4("nope.service.corral")).rejects.toThrow();
      expect(n.proc).toBeDefined();
    }
  }, 30_000);
});
