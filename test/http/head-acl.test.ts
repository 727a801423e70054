// HEAD with ACLs on, on a leader and through an agent: a HEAD answers what
// the same GET answers — status, the GET's Content-Length (core/http/head-answer.ts)
// and X-Consul-Results-Filtered-By-ACLs — for a narrow token and for none,
// with hide_check_output blanking outputs. The agent forwards a HEAD to the
// leader and runs its own ACL checks and rewrites on the way back; a
// rewriter that saw the HEAD's empty body must not change the answer.
import { afterAll, expect, test } from "bun:test";
import { freePort, getJson, killAll, startCorral, eventually } from "../helpers/proc.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";

afterAll(() => killAll());

test("HEAD answers as GET does, on the leader and through an agent, for a narrow token and for none", async () => {
  const leaderPort = await freePort();
  const secret = "head-acl-test-secret-0123456789";
  const hide = `\n[plugins.discovery]\nhide_check_output = true\n`;
  const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}${hide}` });
  const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
  const n = { proc: leader, url: leader.url, management: boot.body.SecretID as string };
  const narrow = await tokenWith(n, "narrow", 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }');
  const agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "head-agent"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}token_ttl = "1s"\n${hide}`,
  });
  for (const [id, name] of [["web-1", "web"], ["db-1", "db"]] as const) {
    const r = await call(leader.url, "PUT", "/v1/catalog/register", n.management, {
      Node: "n1", Address: "10.0.0.1", Service: { ID: id, Service: name, Port: 80 },
      Check: { CheckID: `c-${id}`, Name: "c", Status: "passing", ServiceID: id, Output: "not for readers" },
    });
    expect(r.status).toBe(200);
  }
  await eventually(async () => (await call(agent.url, "GET", "/v1/health/service/web", narrow.secret)).status === 200, 15_000);
  const paths = ["/v1/catalog/services", "/v1/health/service/web", "/v1/health/service/db", "/v1/health/state/any", "/v1/catalog/nodes", "/v1/kv/x"];
  let filtered = 0;
  for (const url of [leader.url, agent.url]) {
    for (const path of paths) {
      for (const token of [narrow.secret, undefined]) {
        const headers: Record<string, string> = token ? { "x-consul-token": token } : {};
        const get = await fetch(url + path, { headers });
        const body = await get.text();
        const head = await fetch(url + path, { method: "HEAD", headers });
        const what = `${url === leader.url ? "leader" : "agent"} ${path} ${token ? "narrow" : "anonymous"}`;
        expect(`${what}: ${head.status}`).toBe(`${what}: ${get.status}`);
        expect(`${what}: ${head.headers.get("content-length")}`).toBe(`${what}: ${String(new TextEncoder().encode(body).length)}`);
        expect(`${what}: ${head.headers.get("x-consul-results-filtered-by-acls")}`).toBe(`${what}: ${get.headers.get("x-consul-results-filtered-by-acls")}`);
        expect(await head.text()).toBe("");
        expect(body).not.toContain("not for readers");
        if (get.headers.get("x-consul-results-filtered-by-acls") === "true") filtered++;
      }
    }
  }
  expect(filtered).toBeGreaterThan(4); // the narrow token's and the anonymous lists were cut, on both nodes
}, 60_000);
