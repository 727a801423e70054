// Agents talk to any leader-role node and follow a leader change: across a
// kill -9 of the active leader the agent's node is never marked down, its
// heartbeats keep arriving at the new leader, and its writes go on. A node
// the new leader has not heard from yet is spared for
// leader.failover_heartbeat_ttl, then judged by node_ttl.
import { afterAll, describe, expect, test } from "bun:test";
import { TestCluster, CLUSTER_SECRET } from "../helpers/cluster.ts";
import { getJson, sleep, eventually, startCorral } from "../helpers/proc.ts";

const ELECTION_MS = 500;
let c: TestCluster;
afterAll(() => c?.stop());

describe("agents across a leader failover", () => {
  test("registration and heartbeats survive a kill -9 of the leader", async () => {
    c = new TestCluster({ size: 3, electionTimeoutMs: ELECTION_MS, heartbeatMs: 50, nodeTtlMs: 2000 });
    await c.start();
    await c.waitLeader();
    const leaders = c.nodes.map((n) => `"${n.address}"`).join(", ");
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-x"\n[cluster]\nsecret = "${CLUSTER_SECRET}"\n[agent]\nleaders = [${leaders}]\nheartbeat = "200ms"\n`,
    });
    const anyNode = () => c.nodes.find((n) => n.proc)!;
    const node = await eventually(async () => (await getJson<any[]>(anyNode().url + "/v1/nodes")).body.find((n) => n.name === "agent-x"), 10_000);
    expect(node.status).toBe("ready");

    const old = await c.waitLeader();
    await c.kill(old);
    // For three node TTLs the node must stay ready on whichever node leads.
    const until = Date.now() + 6000;
    let newLeaderSeen = false;
    while (Date.now() < until) {
      const r = await getJson(anyNode().url + "/v1/node/" + node.id).catch(() => undefined);
      if (r?.status === 200) {
        expect(r.body.status).toBe("ready");
        newLeaderSeen ||= r.body.lastHeartbeatAt !== null && Date.now() - r.body.lastHeartbeatAt < 1500;
      }
      await sleep(200);
    }
    expect(newLeaderSeen).toBe(true);
    // Writes through the agent reach the new leader.
    const w = await fetch(agent.url + "/v1/kv/after-failover", { method: "PUT", body: "ok" });
    expect(await w.json()).toBe(true);
    await c.startNode(old);
    await agent.kill();
  }, 60_000);

  test("a node silent since the takeover is spared for failover_heartbeat_ttl, then marked down", async () => {
    await c?.stop();
    c = new TestCluster({ size: 3, electionTimeoutMs: ELECTION_MS, heartbeatMs: 50, nodeTtlMs: 1000, failoverHeartbeatTtlMs: 5000 });
    await c.start();
    await c.waitLeader();
    const leaders = c.nodes.map((n) => `"${n.address}"`).join(", ");
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-quiet"\n[cluster]\nsecret = "${CLUSTER_SECRET}"\n[agent]\nleaders = [${leaders}]\nheartbeat = "200ms"\n`,
    });
    try {
      const anyNode = () => c.nodes.find((n) => n.proc)!;
      const node = await eventually(async () => (await getJson<any[]>(anyNode().url + "/v1/nodes")).body.find((n) => n.name === "agent-quiet"), 10_000);
      expect(node.status).toBe("ready");
      // The agent falls silent as the leader dies: the new leader never hears from it.
      process.kill(agent.child.pid!, "SIGSTOP");
      const old = await c.waitLeader();
      await c.kill(old);
      const leader = await c.waitLeader(10_000);
      const tookOver = Date.now();
      const status = async () => (await getJson(c.nodes[leader]!.url + "/v1/node/" + node.id)).body.status as string;
      // Three node TTLs: with node_ttl alone it would be down after one.
      while (Date.now() - tookOver < 3000) {
        expect(await status()).toBe("ready");
        await sleep(200);
      }
      // Past the grace (5 s from the takeover, plus a sweep) it is judged by node_ttl: down.
      await eventually(async () => (await status()) === "down", 8000);
      expect(Date.now() - tookOver).toBeGreaterThanOrEqual(4500);
    } finally {
      await agent.kill();
    }
  }, 60_000);
});
