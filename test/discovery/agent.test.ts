// Agent-owned registrations across processes: a leader and an agent from the
// real entry point. The agent owns its services (data dir), the catalog on
// the leader follows it; kill -9 of the agent leaves its services critical
// while its node is down and intact after restart; anti-entropy removes what
// the agent no longer has and restores everything onto a leader that lost
// its state.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, freePort, type CorralProcess } from "../helpers/proc.ts";
import { consulClient, runConsulClientFlow } from "./consul-flow.ts";

const SECRET = "discovery-secret-0123456789";
const NODE_TTL_MS = 2000;

afterAll(killAll);

const leaderConfig = `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "${NODE_TTL_MS}ms"\n`;
const agentConfig = (leaderPort: number) =>
  `[node]\nname = "agent-1"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n[plugins.discovery]\nsync_interval = "2s"\n`;

type Entry = { Node: { Node: string; Address: string }; Service: { ID: string; Port: number }; Checks: { CheckID: string; Status: string }[] };
const health = async (base: string, service: string, passing = false) =>
  (await getJson<Entry[]>(`${base}/v1/health/service/${service}${passing ? "?passing" : ""}`)).body;

describe("leader + agent", () => {
  test("the agent owns its registrations: consul client flow, kill -9, restart, anti-entropy, leader state loss", async () => {
    const leaderPort = await freePort();
    let leader: CorralProcess = await startCorral({ role: "leader", port: leaderPort, config: leaderConfig });
    const agentData = join(tempDir(), "agent-data");
    const agentPort = await freePort();
    const start = () => startCorral({ role: "agent", port: agentPort, dataDir: agentData, config: agentConfig(leaderPort) });
    let agent = await start();
    await eventually(async () => (await getJson<any[]>(leader.url + "/v1/catalog/nodes")).body.some((n) => n.Node === "agent-1"), 10_000);

    // The whole client flow through the agent: agent endpoints local, reads forwarded.
    await runConsulClientFlow(agent.url);
    const kept = await runConsulClientFlow(agent.url, { service: "kept", keep: true });
    await consulClient(agent.url).agent.service.register({ name: "extra", port: 7 } as never);

    // The leader's catalog has them, on the agent's node.
    const onLeader = await health(leader.url, "kept", true);
    expect(onLeader.map((e) => [e.Node.Node, e.Node.Address, e.Service.ID])).toEqual([["agent-1", "127.0.0.1", kept.serviceId]]);
    expect(readFileSync(join(agentData, "discovery", "services.json"), "utf8")).toContain(kept.serviceId);

    // kill -9: the node goes down, its instances turn critical (serfHealth) but stay listed.
    await agent.kill("SIGKILL");
    await eventually(async () => (await health(leader.url, "kept", true)).length === 0, NODE_TTL_MS + 3000, 100);
    const down = await health(leader.url, "kept");
    expect(down).toHaveLength(1);
    expect(down[0]!.Checks.find((c) => c.CheckID === "serfHealth")!.Status).toBe("critical");
    expect(down[0]!.Checks.find((c) => c.CheckID === kept.checkId)!.Status).toBe("passing");

    // While it is down, its local state loses "extra": the next sync must remove it from the catalog.
    const file = join(agentData, "discovery", "services.json");
    const local = JSON.parse(readFileSync(file, "utf8"));
    local.services = local.services.filter((s: { id: string }) => s.id !== "extra");
    writeFileSync(file, JSON.stringify(local));

    agent = await start();
    const restarted = (await getJson(agent.url + "/v1/agent/services")).body;
    expect(Object.keys(restarted)).toEqual([kept.serviceId]);
    await eventually(async () => (await health(leader.url, "kept", true)).length === 1, 10_000);
    await eventually(async () => (await health(leader.url, "extra")).length === 0, 10_000);

    // The leader loses its whole state (a fresh data dir on the same address):
    // the agent rejoins and anti-entropy puts its services back.
    await leader.kill("SIGKILL");
    leader = await startCorral({ role: "leader", port: leaderPort, config: leaderConfig });
    const back = await eventually(async () => {
      const h = await health(leader.url, "kept", true);
      return h.length === 1 && h;
    }, 15_000, 200);
    expect(back[0]!.Node.Node).toBe("agent-1");
    expect(back[0]!.Checks.find((c) => c.CheckID === kept.checkId)!.Status).toBe("passing");

    // Deregistering on the agent removes it everywhere.
    await consulClient(agent.url).agent.service.deregister(kept.serviceId);
    expect(await health(leader.url, "kept")).toEqual([]);
  }, 90_000);
});
