// A leader process and an agent process from the real entry point: the agent
// joins with its real fingerprint, is marked down when killed -9 and ready
// again, with the same node id, when restarted.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, freePort, sleep } from "../helpers/proc.ts";

const SECRET = "test-secret-0123456789abcdef";
const NODE_TTL_MS = 2000;

afterAll(killAll);

function memTotalBytes(): number {
  const kb = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"))![1]);
  return kb * 1024;
}

function nproc(): number {
  try {
    return Number(execFileSync("nproc").toString().trim());
  } catch {
    return availableParallelism();
  }
}

describe("leader + agent processes", () => {
  test("join, fingerprint, down on kill -9, ready again with the same id", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({
      role: "leader",
      port: leaderPort,
      config: `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "${NODE_TTL_MS}ms"\n`,
    });
    const agentData = join(tempDir(), "agent-data");
    const agentConfig = `[node]\nname = "agent-1"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n`;
    const agentPort = await freePort();
    let agent = await startCorral({ role: "agent", port: agentPort, dataDir: agentData, config: agentConfig });

    const node = await eventually(async () => {
      const r = await getJson<any[]>(leader.url + "/v1/nodes");
      return r.body.find((n) => n.name === "agent-1");
    }, 10_000);
    expect(node.status).toBe("ready");
    expect(node.role).toBe("agent");
    expect(node.address).toBe(`127.0.0.1:${agentPort}`);
    expect(Math.abs(node.resources.memoryBytes - memTotalBytes()) / memTotalBytes()).toBeLessThan(0.01);
    expect(node.resources.cores).toBe(nproc());
    expect(node.resources.cpuMhz).toBeGreaterThan(0);
    const id = node.id;
    expect(readFileSync(join(agentData, "node-id"), "utf8").trim()).toBe(id);

    // Live samples arrive with heartbeats.
    const withSample = await eventually(async () => (await getJson(leader.url + "/v1/node/" + id)).body.sample, 5000);
    expect(withSample.memoryUsedBytes).toBeGreaterThan(0);

    // An agent hands KV reads and writes to the leader.
    expect(await (await fetch(agent.url + "/v1/kv/via-agent", { method: "PUT", body: "v1" })).json()).toBe(true);
    const viaLeader = (await getJson<any[]>(leader.url + "/v1/kv/via-agent")).body;
    expect(Buffer.from(viaLeader[0].Value, "base64").toString()).toBe("v1");
    const viaAgent = await getJson<any[]>(agent.url + "/v1/kv/via-agent");
    expect(viaAgent.body[0].ModifyIndex).toBe(viaLeader[0].ModifyIndex);
    expect(Number(viaAgent.headers.get("x-consul-index"))).toBe(viaLeader[0].ModifyIndex);

    // kill -9: marked down within node_ttl + 1 s.
    await agent.kill("SIGKILL");
    const killedAt = Date.now();
    await eventually(async () => (await getJson(leader.url + "/v1/node/" + id)).body.status === "down", NODE_TTL_MS + 1000, 50);
    const downAfterMs = Date.now() - killedAt;
    expect(downAfterMs).toBeLessThanOrEqual(NODE_TTL_MS + 1000);

    // Restart with the same data dir: same id, ready again, still one node.
    agent = await startCorral({ role: "agent", port: agentPort, dataDir: agentData, config: agentConfig });
    await eventually(async () => (await getJson(leader.url + "/v1/node/" + id)).body.status === "ready", 10_000);
    const all = (await getJson<any[]>(leader.url + "/v1/nodes")).body;
    expect(all.filter((n) => n.name === "agent-1").map((n) => n.id)).toEqual([id]);
  }, 60_000);

  test("an agent with the wrong secret cannot join", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n` });
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "intruder"\n\n[cluster]\nsecret = "wrong-secret-0123456789"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "200ms"\n`,
    });
    await sleep(1500);
    expect((await getJson<any[]>(leader.url + "/v1/nodes")).body).toEqual([]);
    expect(agent.output()).toContain("wrong cluster.secret");
  }, 30_000);
});
