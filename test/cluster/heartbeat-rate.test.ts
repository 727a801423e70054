// Adaptive heartbeats: the leader lengthens every agent's interval as the
// cluster grows (leader.max_heartbeats_per_second), tells it in join and
// heartbeat answers, and judges a node's silence by the interval it told it.
import { afterAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { downAfterMs, heartbeatIntervalMs } from "../../core/cluster/heartbeat-rate.ts";
import { signRequest, SIGNATURE_HEADER } from "../../core/http/middleware/cluster-auth.ts";
import { eventually, getJson, killAll, sleep, startCorral } from "../helpers/proc.ts";

afterAll(killAll);

describe("heartbeat-rate (pure)", () => {
  test("the interval keeps all agents under the rate", () => {
    expect(heartbeatIntervalMs(10, 1000)).toBe(10);
    expect(heartbeatIntervalMs(10_000, 1000)).toBe(10_000);
    expect(heartbeatIntervalMs(100_000, 1000)).toBe(100_000);
    expect(heartbeatIntervalMs(3, 1)).toBe(3000);
  });
  test("down after node_ttl or three intervals, whichever is longer", () => {
    expect(downAfterMs(15_000, 2000)).toBe(15_000);
    expect(downAfterMs(15_000, 10_000)).toBe(30_000);
  });
});

const SECRET = "heartbeat-rate-secret-0123456789";

describe("a leader with max_heartbeats_per_second = 1", () => {
  test("asks for longer intervals as nodes join, and marks a silent node down by the interval it told it", async () => {
    const leader = await startCorral({
      role: "leader",
      config: `[cluster]\nsecret = "${SECRET}"\n\n[leader]\nnode_ttl = "1s"\nmax_heartbeats_per_second = 1\n\n[agent]\nheartbeat = "200ms"\n`,
    });
    const host = new URL(leader.url).host;
    const post = async (path: string, node: string, body: unknown) => {
      const text = JSON.stringify(body);
      const r = await fetch(leader.url + path, {
        method: "POST", body: text,
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signRequest({ secret: SECRET, node }, "POST", path, text, { to: host }) },
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const join = (i: number) => post("/v1/cluster/join", ids[i]!, {
      id: ids[i], name: `n${i}`, address: `10.0.0.${i + 1}:7700`, datacenter: "dc1", role: "agent", attributes: {},
      resources: { cpuMhz: 1000, cores: 1, memoryBytes: 2 ** 30, diskBytes: 2 ** 30 }, reserved: { cpuMhz: 0, memoryBytes: 0 }, meta: {},
    });
    // The first node: the leader has counted no node yet, so it asks nothing (0: the agent's own interval).
    const first = await join(0);
    expect(first.status).toBe(200);
    expect(first.body.heartbeatMs).toBeGreaterThanOrEqual(0);
    await join(1);
    await join(2);
    // Three nodes at 1 beat/s: 3 s each, once the leader has counted them (its sweep runs every 250 ms here).
    const beat = await eventually(async () => {
      const r = await post("/v1/cluster/heartbeat", ids[0]!, { id: ids[0] });
      return r.body.heartbeatMs === 3000 ? r : undefined;
    }, 5000, 100);
    expect(beat.status).toBe(200);
    expect(beat.body).toEqual({ ok: true, status: "ready", heartbeatMs: 3000 });

    // Node 1 was last told 3 s: silent past node_ttl (1 s) it is still ready; after 3 × 3 s it is down.
    await post("/v1/cluster/heartbeat", ids[1]!, { id: ids[1] });
    const toldAt = Date.now();
    await sleep(2500);
    const status = async () => (await getJson(`${leader.url}/v1/nodes`)).body.find((n: { ID?: string; id?: string }) => (n.ID ?? n.id) === ids[1]);
    expect(JSON.stringify(await status())).toContain('"ready"');
    await eventually(async () => (JSON.stringify(await status()).includes('"down"') ? true : undefined), 15_000, 200);
    const silentMs = Date.now() - toldAt;
    expect(silentMs).toBeGreaterThanOrEqual(9000);
  }, 60_000);
});

describe("an agent", () => {
  test("beats at the leader's interval when it is longer than its own, and at its own again when the leader asks less", async () => {
    const { AgentMember } = await import("../../core/cluster/agent.ts");
    const { silentLogger } = await import("../../core/log.ts");
    const beats: number[] = [];
    let asked = 600;
    // A leader stand-in recording when beats arrive (the real leader's answers are checked above).
    const transport = {
      describe: () => "fake",
      join: async () => ({ nodeId: "n", index: 1, heartbeatMs: asked }),
      heartbeat: async () => {
        beats.push(Date.now());
        return { ok: true as const, status: "ready" as const, heartbeatMs: asked };
      },
    };
    const m = new AgentMember({
      transport, registration: async () => ({ id: randomUUID() } as never), latestSample: () => undefined, heartbeatMs: 100, log: silentLogger,
    });
    m.start();
    await sleep(2000);
    const slow = beats.length;
    // 600 ms asked over 2 s: about 3 beats, where its own 100 ms would give ~19.
    expect(slow).toBeGreaterThanOrEqual(2);
    expect(slow).toBeLessThanOrEqual(4);
    expect(m.intervalMs()).toBe(600);
    asked = 0; // an earlier release's answer (no interval): its own 100 ms again
    await sleep(1500);
    m.stop();
    expect(beats.length - slow).toBeGreaterThanOrEqual(6);
    expect(m.intervalMs()).toBe(100);
  });
});
