// What a client of an agent sees when no leader answers, route by route
// kind (issue 19, point 3: the agent's forward is applied by the route table,
// its failures mapped in one place, core/http/leader-forward.ts). The
// answers are the ones the hand-written forwards gave before the change:
//   core JSON routes             503 JSON, a write with X-Corral-Outcome
//   core Consul routes (kv, …)   503 Consul text
//   plugin Consul routes         500 "No cluster leader (…)" (Consul's own)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

let agent: CorralProcess;
afterAll(killAll);
beforeAll(async () => {
  const nobody = await freePort(); // no leader listens there: every forward is refused while connecting
  agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "lonely"\n\n[cluster]\nsecret = "leader-forward-failures-secret"\n\n[agent]\nleaders = ["127.0.0.1:${nobody}"]\n`,
  });
}, 60_000);

async function ask(method: string, path: string, body?: string) {
  const res = await fetch(agent.url + path, { method, body, headers: body ? { "Content-Type": "application/json" } : {} });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", outcome: res.headers.get("x-corral-outcome"), text };
}

describe("an agent with no reachable leader", () => {
  test("core JSON routes: 503 with a JSON error; a write says it was not applied", async () => {
    const read = await ask("GET", "/v1/jobs");
    expect(read.status).toBe(503);
    expect(read.type).toContain("application/json");
    expect(JSON.parse(read.text).code).toBeString();
    expect(read.outcome).toBeNull();

    const write = await ask("DELETE", "/v1/job/nothing");
    expect(write.status).toBe(503);
    expect(write.type).toContain("application/json");
    expect(write.outcome).toBe("not-applied");
  });

  test("core Consul routes: 503 in Consul's text", async () => {
    const read = await ask("GET", "/v1/kv/a");
    expect(read.status).toBe(503);
    expect(read.type).toContain("text/plain");
    const write = await ask("PUT", "/v1/kv/a", '"x"');
    expect(write.status).toBe(503);
    expect(write.type).toContain("text/plain");
    expect(write.outcome).toBe("not-applied");
    const session = await ask("PUT", "/v1/session/create", "{}");
    expect(session.status).toBe(503);
    expect(session.outcome).toBe("not-applied");
  });

  test("plugin Consul routes keep Consul's 500 No cluster leader", async () => {
    for (const [method, path] of [["GET", "/v1/catalog/services"], ["GET", "/v1/health/service/web"], ["GET", "/v1/acl/policies"]] as const) {
      const r = await ask(method, path);
      expect(r.status, `${method} ${path}`).toBe(500);
      expect(r.text, `${method} ${path}`).toStartWith("No cluster leader (");
    }
  });

});
