// Node garbage collection (issue 18 point 5) on real processes: a leader with
// a short node_gc_threshold and agents that are killed. A node down past the
// threshold with nothing live on it disappears from /v1/nodes,
// /v1/catalog/nodes and, with its services, /v1/catalog/services, and a
// blocking catalog query wakes on it; a node that came back is kept; `corral
// system gc` collects a down node at once whatever the threshold. (A down node
// holding a live allocation is kept: test/jobs/node-gc-state.test.ts.)
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, freePort, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { BUN } from "./cluster-helpers.ts";

const SECRET = "node-gc-secret-0123456789";
afterAll(killAll);

const leaderConfig = (threshold: string) =>
  `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "1500ms"\njob_gc_interval = "300ms"\nnode_gc_threshold = "${threshold}"\n`;
const agentConfig = (name: string, leaderPort: number) =>
  `[node]\nname = "${name}"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n[plugins.discovery]\nsync_interval = "1s"\n`;

async function startAgent(name: string, leaderPort: number, dataDir = join(tempDir(), `${name}-data`)): Promise<CorralProcess> {
  return startCorral({ role: "agent", port: await freePort(), dataDir, config: agentConfig(name, leaderPort) });
}

type Node = { name: string; status: string };
const nodeStatus = async (leader: CorralProcess, name: string) =>
  (await getJson<Node[]>(`${leader.url}/v1/nodes`)).body.find((n) => n.name === name)?.status ?? "gone";
const catalogNodes = async (leader: CorralProcess) => (await getJson<{ Node: string }[]>(`${leader.url}/v1/catalog/nodes`)).body.map((n) => n.Node);
const catalogServices = async (leader: CorralProcess) => Object.keys((await getJson<Record<string, string[]>>(`${leader.url}/v1/catalog/services`)).body);

describe("node garbage collection", () => {
  test("a node down past node_gc_threshold goes with its services, a blocking catalog query wakes; a node that came back stays", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: leaderConfig("4s") });
    const leaving = await startAgent("leaving", leaderPort);
    const returningData = join(tempDir(), "returning-data");
    let returning = await startAgent("returning", leaderPort, returningData);
    await eventually(async () => (await nodeStatus(leader, "leaving")) === "ready" && (await nodeStatus(leader, "returning")) === "ready", 20_000);
    const reg = await fetch(`${leaving.url}/v1/agent/service/register`, { method: "PUT", body: JSON.stringify({ Name: "leaving-web", ID: "leaving-web-1", Port: 8080 }) });
    expect(reg.status).toBe(200);
    await eventually(async () => (await catalogServices(leader)).includes("leaving-web"), 15_000);
    expect(await catalogNodes(leader)).toContain("leaving");

    await leaving.kill("SIGKILL");
    await returning.kill("SIGKILL");
    await eventually(async () => (await nodeStatus(leader, "leaving")) === "down" && (await nodeStatus(leader, "returning")) === "down", 15_000, 100);
    // Right after it went down (well inside the threshold) it is still listed, with its service.
    // The blocking queries below start from this listing's index: one that still has the node.
    // (Read later, after the restart below, the node may already be gone on a loaded machine,
    // and a query from that index would wait its full 60 s for a change that never comes.)
    const listed = await fetch(`${leader.url}/v1/catalog/nodes`);
    let index = Number(listed.headers.get("X-Consul-Index"));
    expect(((await listed.json()) as { Node: string }[]).map((n) => n.Node)).toContain("leaving");
    expect(await catalogServices(leader)).toContain("leaving-web");
    returning = await startAgent("returning", leaderPort, returningData);
    await eventually(async () => (await nodeStatus(leader, "returning")) === "ready", 15_000);

    // A blocking catalog query wakes when the node goes (each wait answers before its own timeout).
    const startIndex = index;
    await eventually(async () => {
      const t0 = Date.now();
      const r = await fetch(`${leader.url}/v1/catalog/nodes?index=${index}&wait=60s`);
      expect(Date.now() - t0).toBeLessThan(55_000);
      const next = Number(r.headers.get("X-Consul-Index"));
      const names = ((await r.json()) as { Node: string }[]).map((n) => n.Node);
      if (names.includes("leaving")) { index = next; return false; }
      expect(next).toBeGreaterThan(startIndex);
      return true;
    }, 60_000, 0);
    expect(await nodeStatus(leader, "leaving")).toBe("gone");
    expect(await catalogServices(leader)).not.toContain("leaving-web");
    // The node that came back before its threshold is kept, ready, long after the other went.
    await Bun.sleep(5000);
    expect(await nodeStatus(leader, "returning")).toBe("ready");
    expect(await catalogNodes(leader)).toContain("returning");
  }, 150_000);

  test("corral system gc collects a down node at once, whatever node_gc_threshold", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: leaderConfig("1h") });
    const agent = await startAgent("gone-now", leaderPort);
    const stays = await startAgent("stays", leaderPort);
    await eventually(async () => (await nodeStatus(leader, "gone-now")) === "ready" && (await nodeStatus(leader, "stays")) === "ready", 20_000);
    await agent.kill("SIGKILL");
    await eventually(async () => (await nodeStatus(leader, "gone-now")) === "down", 15_000, 100);
    // The collector runs every 300 ms: under a 1 h threshold the down node stays.
    await Bun.sleep(1500);
    expect(await nodeStatus(leader, "gone-now")).toBe("down");
    const cli = spawnSync(BUN, [ENTRY, "system", "gc", "--addr", leader.url], { cwd: ROOT, encoding: "utf8" });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/, 1 nodes, \d+ KV tombstones, \d+ catalog tombstones, \d+ variable tombstones\n$/);
    expect(await nodeStatus(leader, "gone-now")).toBe("gone");
    expect(await catalogNodes(leader)).not.toContain("gone-now");
    expect(await nodeStatus(leader, "stays")).toBe("ready");
    await stays.kill("SIGKILL");
  }, 120_000);
});
