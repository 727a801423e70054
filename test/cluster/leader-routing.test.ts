// Every write route of a node with every built-in plugin on declares how it
// reaches the leader (issue 19, point 3; core/http/leader-routing.ts):
// "forward", "read", "local" or "leader", on the route definition, applied by the
// route table. A new route that writes and declares nothing fails here, by
// name, instead of answering from an agent's empty state or forgetting to
// forward. (Hidden routes only answer 405.)
import { afterAll, describe, expect, test } from "bun:test";
import { getJson, killAll, startCorral } from "../helpers/proc.ts";

afterAll(() => killAll());

type Listed = { method: string; path: string; owner: string; hidden: boolean; leader: string | null };

describe("leader routing", () => {
  test("the live route table of a dev node: each write route declares its leader routing", async () => {
    const node = await startCorral({ role: "dev" });
    const routes = (await getJson(node.url + "/v1/operator/routes")).body as Listed[];
    expect(routes.length).toBeGreaterThan(50);
    const writes = routes.filter((r) => !r.hidden && r.method !== "GET" && r.method !== "HEAD");
    expect(writes.length).toBeGreaterThan(20);
    const undeclared = writes
      .filter((r) => r.leader === null)
      .map((r) => `${r.method} ${r.path} (owner ${r.owner}) declares no leader routing: add leader: "forward" | "read" | "local" | "leader" to its route`);
    expect(undeclared).toEqual([]);
    for (const r of routes) expect([null, "forward", "read", "local", "leader"]).toContain(r.leader);
    // The state writes reached through an agent are forwarded, not answered locally.
    const of = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path)?.leader;
    expect(of("PUT", "/v1/kv/{key{.+}}") ?? of("PUT", "/v1/kv/{key{.*}}")).toBe("forward");
    expect(of("POST", "/v1/jobs")).toBe("forward");
    expect(of("PUT", "/v1/session/create")).toBe("forward");
    expect(of("GET", "/v1/jobs")).toBe("read");
    // Cluster-wide reads an agent must hand to a leader (test/cluster/agent-reads.test.ts).
    expect(of("GET", "/v1/nodes")).toBe("read");
    expect(of("GET", "/v1/node/{id}")).toBe("read");
    expect(of("GET", "/v1/operator/raft/configuration")).toBe("forward");
    expect(of("POST", "/v1/cluster/heartbeat")).toBe("leader");
    await node.kill();
  });
});
