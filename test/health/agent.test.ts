// Checks run on the node that owns the service: a leader and an agent from
// the real entry point. A service registered on the agent is probed by the
// agent's health plugin only (disable it there and the probes stop, though
// the leader's plugin runs); the leader's log receives exactly the status
// transitions, and nothing while the status holds.
import { afterAll, describe, expect, test } from "bun:test";
import { startCorral, killAll, getJson, eventually, sleep, freePort } from "../helpers/proc.ts";
import { checkTransitions, checkOf, commitIndex, httpTarget } from "./targets.ts";

const SECRET = "health-secret-0123456789";
afterAll(killAll);

const leaderConfig = `[cluster]\nsecret = "${SECRET}"\n\n[plugins.health]\nmin_interval = "50ms"\n`;
const agentConfig = (leaderPort: number) =>
  `[node]\nname = "agent-h"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n` +
  `[plugins.discovery]\nsync_interval = "1s"\n\n[plugins.health]\nmin_interval = "50ms"\n`;

const metric = async (base: string, name: string) => {
  const text = await (await fetch(base + "/metrics")).text();
  const m = new RegExp(`^${name} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
};

describe("leader + agent", () => {
  test("an agent's checks run on that agent; the leader's log sees only the transitions", async () => {
    const target = httpTarget();
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: leaderConfig });
    const agent = await startCorral({ role: "agent", config: agentConfig(leaderPort) });
    await eventually(async () => (await getJson<any[]>(leader.url + "/v1/catalog/nodes")).body.some((n) => n.Node === "agent-h"), 10_000);

    const log = await checkTransitions(leader.url);
    const r = await fetch(agent.url + "/v1/agent/service/register", {
      method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Name: "remote", Check: { CheckID: "remote", HTTP: target.url("/remote"), Interval: "100ms" } }),
    });
    expect(r.status).toBe(200);
    expect(await log.until("remote", 1)).toEqual(["passing"]);
    expect((await checkOf(leader.url, "remote", "remote"))?.Output).toBe(`HTTP GET ${target.url("/remote")}: 200 OK Output: ok`);

    // Who runs it: the agent's plugin has the check, the leader's none.
    expect(await metric(agent.url, "corral_health_checks")).toBe(1);
    expect(await metric(leader.url, "corral_health_checks")).toBe(0);

    // Steady: probes run, the leader's log does not move (anti-entropy every 1 s agrees).
    await sleep(1_500);
    const idle = await commitIndex(leader.url);
    const hits = target.hits("/remote");
    await sleep(2_000);
    expect(await commitIndex(leader.url)).toBe(idle);
    const probes = target.hits("/remote") - hits;
    expect(probes).toBeGreaterThan(10); // ~20 at 100 ms: one runner, not two
    expect(probes).toBeLessThan(30);

    // Flip: fail, recover — two transitions, two log entries.
    target.set("/remote", "fail");
    expect(await log.until("remote", 2)).toEqual(["passing", "critical"]);
    target.set("/remote", "ok");
    expect(await log.until("remote", 3)).toEqual(["passing", "critical", "passing"]);
    await sleep(1_500);
    expect(await commitIndex(leader.url)).toBe(idle + 2);

    // Disable health on the agent: nobody probes it any more (the leader does not take over).
    const toggle = (enabled: boolean) =>
      getJson(agent.url + "/v1/plugins/health", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled }) });
    expect((await toggle(false)).body.state).toBe("disabled");
    await sleep(300);
    const stopped = target.hits("/remote");
    await sleep(1_000);
    expect(target.hits("/remote")).toBe(stopped);
    expect((await toggle(true)).body.state).toBe("enabled");
    await eventually(() => target.hits("/remote") > stopped + 3, 5_000, 50);
    // Back with fresh counters; the status held, so still nothing new in the log.
    await sleep(500);
    expect(log.of("remote")).toEqual(["passing", "critical", "passing"]);

    await log.stream.cancel();
    target.stop();
  }, 60_000);
});
