// On an agent (no replicated state) the instances come from blocking health
// queries to the leader: calls through the agent's proxy reach services
// registered anywhere in the cluster, and a check turning critical takes an
// instance out of rotation without a lookup per call.
import { afterAll, describe, expect, test } from "bun:test";
import { eventually, freePort, getJson, killAll, startCorral } from "../helpers/proc.ts";
import { invokeStatus, killBackends, load, proxyPort, register, setCheck, startBackend, waitPassing } from "./helpers.ts";

const SECRET = "invoke-secret-0123456789";

afterAll(async () => {
  await killBackends();
  await killAll();
});

describe("invoke on an agent", () => {
  test("balances over the leader's catalog and follows its changes", async () => {
    const leaderPort = await freePort();
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n` });
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-1"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n`,
    });
    await eventually(async () => (await getJson<{ Node: string }[]>(`${leader.url}/v1/catalog/nodes`)).body.some((n) => n.Node === "agent-1"), 10_000);
    const backends = await Promise.all(["x", "y", "z"].map((id) => startBackend(id)));
    // Two instances registered on the agent, one on the leader: the catalog joins them.
    await register(agent, "api", backends[0]!);
    await register(agent, "api", backends[1]!);
    await register(leader, "api", backends[2]!);
    await waitPassing(leader, "api", 3);

    const port = await proxyPort(agent);
    const r = await load(port, "api", 900, 6);
    expect(r.failures).toEqual([]);
    for (const id of ["x", "y", "z"]) expect(r.by.get(id) ?? 0).toBeGreaterThan(200);

    await setCheck(agent, "api-x", "fail");
    await eventually(async () => (await invokeStatus(agent, "api")).instances.length === 2, 10_000, 100);
    const without = await load(port, "api", 200, 4);
    expect(without.failures).toEqual([]);
    expect(without.by.get("x")).toBeUndefined();

    const unknown = await getJson(`${agent.url}/v1/invoke/nothing-here/`);
    expect([unknown.status, unknown.body.code]).toEqual([404, "UNKNOWN_SERVICE"]);
  }, 60_000);
});
