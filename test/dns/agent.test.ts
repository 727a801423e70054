// DNS on an agent (real leader and agent processes): the agent holds no
// state, yet `dig @agent web.service.corral` answers like the leader — from
// a view of the names it was asked about, kept current by blocking queries
// to the leader — and says SERVFAIL, not NXDOMAIN, for a new name while the
// leader is gone, still answering the names it already watches.
import { afterAll, describe, expect, test } from "bun:test";
import { eventually, freePort, killAll, startCorral } from "../helpers/proc.ts";
import { udpQuery } from "./wire.ts";

const SECRET = "dns-agent-secret-0123456789";
afterAll(killAll);

const put = (url: string, body?: unknown) => fetch(url, { method: "PUT", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
const addresses = (d: { answers?: { type: string; data?: unknown }[] }) => (d.answers ?? []).filter((a) => a.type === "A").map((a) => a.data);

describe("leader + agent", () => {
  test("the agent answers service and node names through the leader, follows health changes, and SERVFAILs without it", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n` });
    const dnsPort = await freePort();
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-dns"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n[plugins.dns]\nport = ${dnsPort}\n`,
    });
    const reg = await put(`${agent.url}/v1/agent/service/register`, { Name: "Web", ID: "web-1", Address: "127.0.0.2", Port: 8080, Tags: ["v1"], Check: { CheckID: "web-ttl", TTL: "10m", Status: "passing" } });
    expect(reg.status).toBe(200);
    await eventually(async () => {
      const r = await udpQuery(dnsPort, "web.service.corral", "A");
      return addresses(r).length === 1 ? r : undefined;
    }, 10_000, 100);

    const a = await udpQuery(dnsPort, "web.service.corral", "A");
    expect(a.rcode).toBe("NOERROR");
    expect(addresses(a)).toEqual(["127.0.0.2"]);
    const srv = await udpQuery(dnsPort, "v1.web.service.corral", "SRV");
    expect(srv.answers?.map((x) => (x as { data: { port: number } }).data.port)).toEqual([8080]);
    const node = await udpQuery(dnsPort, "agent-dns.node.corral", "A");
    expect(addresses(node)).toEqual(["127.0.0.1"]);
    expect((await udpQuery(dnsPort, "nothing-here.service.corral", "A")).rcode).toBe("NXDOMAIN");

    // A check turning critical reaches the agent's answers through the watch, not a cache expiry.
    expect((await put(`${agent.url}/v1/agent/check/fail/web-ttl`)).status).toBe(200);
    await eventually(async () => (addresses(await udpQuery(dnsPort, "web.service.corral", "A")).length === 0 ? true : undefined), 5_000, 50);
    expect((await put(`${agent.url}/v1/agent/check/pass/web-ttl`)).status).toBe(200);
    await eventually(async () => (addresses(await udpQuery(dnsPort, "web.service.corral", "A")).length === 1 ? true : undefined), 5_000, 50);

    // The leader gone: a name never asked is SERVFAIL (a resolver must not cache "no such name"); a watched one still answers.
    await leader.kill("SIGKILL");
    const t0 = Date.now();
    expect((await udpQuery(dnsPort, "db.service.corral", "A")).rcode).toBe("SERVFAIL");
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(addresses(await udpQuery(dnsPort, "web.service.corral", "A"))).toEqual(["127.0.0.2"]);
  }, 60_000);
});
