// Security issue 13, the write side: one parse and one decision per request,
// ownership of what a write changes, one canonical form of names for ACLs and
// lookups, and agents deciding exactly as leaders do. Real processes (a dev
// node; a leader + an agent), ACLs on with default deny, narrow tokens; each
// test is an attack and asserts what the attacker sees and what the state
// holds afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, getJson, killAll, sleep, BUN } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call, ok, startDev, startPair, token, type Node } from "./helpers-writes.ts";
import { duplicateKey } from "../../core/http/json-body.ts";

afterAll(() => killAll());

/** The catalog entry of a node as the management token sees it (null when gone). */
async function catalogNode(n: Node, name: string) {
  const r = await call(n.url, "GET", `/v1/catalog/node/${name}`, n.management);
  return r.status === 200 ? r.body : null;
}

describe("duplicateKey (the scanner behind the 400)", () => {
  test("finds equal and case-only duplicates at any depth, and nothing else", () => {
    expect(duplicateKey('{"a":1,"a":2}')).toBe("a");
    expect(duplicateKey('{"Node":"x","node":"y"}')).toBe("node");
    expect(duplicateKey('{"a":{"b":1,"B":2}}')).toBe("B");
    expect(duplicateKey('[{"a":1},{"a":2,"x":[{"k":1,"k":2}]}]')).toBe("k");
    expect(duplicateKey(String.raw`{"n\u006fde":1,"node":2}`)).toBe("node"); // a JSON escape: the same key
    expect(duplicateKey(String.raw`{"\\u006eode":1,"node":2}`)).toBeUndefined(); // an escaped backslash: another key
    expect(duplicateKey(String.raw`{"\"a":1,"\"A":2}`)).toBe('"A');
    // Keys in different objects, and strings that look like keys, are not duplicates.
    expect(duplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"\\"a\\",\\"a\\"","d":"{\\"a\\":1,\\"a\\":2}"}')).toBeUndefined();
    expect(duplicateKey('{"a":[1,"a",{"b":"a"}],"A ":1}')).toBeUndefined();
    expect(duplicateKey("[1,2,3]")).toBeUndefined();
    expect(duplicateKey('"x"')).toBeUndefined();
    const deep = "[".repeat(20_000) + '{"a":1,"a":2}' + "]".repeat(20_000);
    expect(duplicateKey(deep)).toBe("a");
  });
});

describe("dev node", () => {
  let n: Node;
  beforeAll(async () => {
    n = await startDev();
    // An external node "victim" with service db (instance db-x) and a critical check on it, and a node "mine".
    await ok(call(n.url, "PUT", "/v1/catalog/register", n.management, {
      Node: "victim", Address: "10.0.0.1", Service: { ID: "db-x", Service: "db", Port: 5432 },
      Checks: [{ CheckID: "db-check", Name: "db alive", ServiceID: "db-x", Status: "critical" }, { CheckID: "victim-ping", Name: "ping", Status: "critical" }],
    }));
    await ok(call(n.url, "PUT", "/v1/catalog/register", n.management, { Node: "mine", Address: "10.0.0.2" }));
    // Services "db" (ID db-1) and "secret" on the dev node's own agent.
    await ok(call(n.url, "PUT", "/v1/agent/service/register", n.management, { ID: "db-1", Name: "db", Port: 5432, Check: { CheckID: "db-1-ttl", TTL: "1h" } }));
    await ok(call(n.url, "PUT", "/v1/agent/service/register", n.management, { ID: "secret-1", Name: "secret", Port: 1 }));
    await ok(call(n.url, "PUT", "/v1/catalog/register", n.management, { Node: "vault", Address: "10.0.0.9" }));
  }, 60_000);

  describe("one parse, one decision: duplicate keys are a 400 everywhere", () => {
    test("Node and node in one catalog body: no overwrite, no removal of another node", async () => {
      const t = await token(n, "mine-writer", 'node "mine" { policy = "write" }');
      for (const body of [
        '{"Node":"mine","node":"victim","Address":"6.6.6.6"}',
        '{"node":"victim","Node":"mine","Address":"6.6.6.6"}',
        '{"Node":"mine","Node":"victim","Address":"6.6.6.6"}',
        '{"Node":"mine","\\u006eode":"victim","Address":"6.6.6.6"}',
      ]) {
        const r = await call(n.url, "PUT", "/v1/catalog/register", t, body);
        expect(r.status).toBe(400);
        expect(String(r.body)).toContain("duplicate key");
      }
      for (const body of ['{"Node":"mine","node":"victim"}', '{"Node":"mine","Node":"victim"}']) {
        expect((await call(n.url, "PUT", "/v1/catalog/deregister", t, body)).status).toBe(400);
      }
      const victim = await catalogNode(n, "victim");
      expect(victim.Node.Address).toBe("10.0.0.1");
      expect(Object.keys(victim.Services)).toEqual(["db-x"]);
      // The honest request still works.
      await ok(call(n.url, "PUT", "/v1/catalog/register", t, { Node: "mine", Address: "10.0.0.3" }));
    });

    test("snake_case and case variants of one field in a Consul body (ServiceID / service_id) are a 400", async () => {
      const r = await call(n.url, "PUT", "/v1/agent/check/register", n.management, '{"Name":"c","TTL":"1m","ServiceID":"db-1","service_id":"secret-1"}');
      expect(r.status).toBe(400);
      expect(String(r.body)).toContain("duplicate key");
    });

    test("every JSON-body route refuses exact and by-case duplicates, nested ones too", async () => {
      const m = n.management;
      const plugin = "probe";
      const cases: [string, string, string][] = [
        ["PUT", "/v1/catalog/register", '{"Node":"mine","Address":"1.1.1.1","address":"2.2.2.2"}'],
        ["PUT", "/v1/catalog/deregister", '{"Node":"mine","ServiceID":"a","ServiceID":"b"}'],
        ["PUT", "/v1/agent/service/register", '{"Name":"x","name":"y"}'],
        ["PUT", "/v1/agent/service/register", '{"Name":"x","Meta":{"a":"1","a":"2"}}'],
        ["PUT", "/v1/agent/service/register", '{"Name":"x","Check":{"TTL":"1m","ttl":"2m"}}'],
        ["PUT", "/v1/agent/check/register", '{"Name":"c","TTL":"1m","Name":"d"}'],
        ["PUT", "/v1/agent/check/update/db-1-ttl", '{"Status":"passing","status":"critical"}'],
        ["PUT", "/v1/acl/policy", '{"Name":"p1","Rules":"operator = \\"read\\"","rules":"acl = \\"write\\""}'],
        ["PUT", "/v1/acl/token", '{"Description":"a","Description":"b"}'],
        ["POST", "/v1/connect/intentions", '{"SourceName":"web","DestinationName":"db","destinationName":"x","Action":"allow"}'],
        ["PUT", "/v1/connect/intentions/exact?source=web&destination=db", '{"Action":"allow","Action":"deny"}'],
        ["POST", "/v1/jobs", '{"id":"j","id":"k","groups":[]}'],
        ["POST", "/v1/job/j/plan", '{"id":"j","ID":"k","groups":[]}'],
        ["PUT", `/v1/plugins/${plugin}`, '{"enabled":true,"enabled":false}'],
        ["POST", "/v1/node/mine/drain", '{"enable":false,"enable":true}'],
        ["PUT", "/v1/invoke-config/web", '{"strategy":"round_robin","Strategy":"p2c"}'],
        ["POST", "/v1/operator/raft/transfer-leader", '{"to":"a","to":"b"}'],
      ];
      for (const [method, path, body] of cases) {
        const r = await call(n.url, method, path, m, body, { "content-type": "application/json" });
        if (r.status !== 400 || !String(typeof r.body === "string" ? r.body : r.body.error).includes("duplicate key")) {
          throw new Error(`${method} ${path} ${body}: ${r.status} ${JSON.stringify(r.body)}`);
        }
        // corral's own routes answer JSON { error, code }; Consul's answer text, as Consul does.
        if (!path.startsWith("/v1/agent") && !path.startsWith("/v1/catalog") && !path.startsWith("/v1/acl") && !path.startsWith("/v1/connect")) {
          expect(r.body.code).toBe("DUPLICATE_KEY");
        }
      }
      // Every other route with a body, found by walking the live route table: the guard answers before the
      // route's ACL check and validation, so each must say 400 duplicate key (raw bodies excepted, below).
      const routes = (await ok(call(n.url, "GET", "/v1/operator/routes", m))) as { method: string; path: string; hidden: boolean }[];
      const raw = ["/v1/kv/", "/v1/invoke/", "/v1/snapshot", "/v1/cluster/", "/v1/raft/"];
      const walked = routes.filter((r) => !r.hidden && r.method !== "GET" && r.method !== "HEAD" && !raw.some((p) => r.path.startsWith(p)));
      expect(walked.length).toBeGreaterThan(25);
      for (const r of walked) {
        const path = r.path.replace(/\{(\w+)(\{[^}]*\})?\}/g, "x");
        const res = await call(n.url, r.method, path, m, '{"Name":"a","nested":{"k":1,"K":2}}', { "content-type": "application/json" });
        const text = typeof res.body === "string" ? res.body : res.body?.error;
        expect(`${r.method} ${r.path} ${res.status} ${String(text).includes("duplicate key")}`).toBe(`${r.method} ${r.path} 400 true`);
      }
      // Nothing took effect: the probe plugin is still on.
      const p = await call(n.url, "GET", `/v1/plugins/${plugin}`, m);
      expect(p.body.enabled ?? p.body.state).not.toBe(false);
      // A KV value is opaque: duplicate keys in it are the client's business.
      await ok(call(n.url, "PUT", "/v1/kv/doc", m, '{"a":1,"a":2}'));
      expect(await (await fetch(`${n.url}/v1/kv/doc?raw`, { headers: { "X-Consul-Token": m } })).text()).toBe('{"a":1,"a":2}');
    });
  });

  describe("ownership: changing a thing needs write on it as it exists", () => {
    test("service ID takeover through the agent endpoint: refused, and the instance keeps its name", async () => {
      const t = await token(n, "evil-agent", 'service "evil" { policy = "write" }');
      const r = await call(n.url, "PUT", "/v1/agent/service/register", t, { ID: "db-1", Name: "evil", Port: 6666 });
      expect(r.status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/agent/service/deregister/db-1", t)).status).toBe(403);
      const svc = await ok(call(n.url, "GET", "/v1/agent/service/db-1", n.management));
      expect(svc.Service).toBe("db");
      expect(svc.Port).toBe(5432);
      // Its own service still registers.
      await ok(call(n.url, "PUT", "/v1/agent/service/register", t, { ID: "evil-1", Name: "evil", Port: 6666 }));
    });

    test("a check riding on a registration cannot take over another service's check", async () => {
      const t = await token(n, "evil-checks", 'service "evil" { policy = "write" }');
      const r = await call(n.url, "PUT", "/v1/agent/service/register", t, { ID: "evil-2", Name: "evil", Check: { CheckID: "db-1-ttl", TTL: "1h", Status: "passing" } });
      expect(r.status).toBe(403);
      const checks = await ok(call(n.url, "GET", "/v1/agent/checks", n.management));
      expect(checks["db-1-ttl"].ServiceID).toBe("db-1");
    });

    test("agent check register by an existing service check's ID needs write on that service", async () => {
      const t = await token(n, "node-only-agent", `node_prefix "" { policy = "write" }`);
      const r = await call(n.url, "PUT", "/v1/agent/check/register", t, { CheckID: "db-1-ttl", Name: "x", TTL: "1h", Status: "passing" });
      expect(r.status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/agent/check/deregister/db-1-ttl", t)).status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/agent/check/pass/db-1-ttl", t)).status).toBe(403);
      const checks = await ok(call(n.url, "GET", "/v1/agent/checks", n.management));
      expect(checks["db-1-ttl"].ServiceID).toBe("db-1");
      expect(checks["db-1-ttl"].Status).toBe("critical");
    });

    test("catalog: service ID takeover on another service's instance is refused", async () => {
      const t = await token(n, "evil-catalog", 'node "victim" { policy = "write" }\nservice "evil" { policy = "write" }');
      const r = await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "victim", Address: "10.0.0.1", Service: { ID: "db-x", Service: "evil", Port: 6666 } });
      expect(r.status).toBe(403);
      const victim = await catalogNode(n, "victim");
      expect(victim.Services["db-x"].Service).toBe("db");
    });

    test("catalog: a node-write token can neither deregister nor overwrite a service's check", async () => {
      const t = await token(n, "victim-node", 'node "victim" { policy = "write" }');
      expect((await call(n.url, "PUT", "/v1/catalog/deregister", t, { Node: "victim", CheckID: "db-check" })).status).toBe(403);
      // Re-registering the check as a node check (no ServiceID), passing.
      expect((await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "victim", Address: "10.0.0.1", Check: { CheckID: "db-check", Name: "x", Status: "passing" } })).status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/catalog/deregister", t, { Node: "victim", ServiceID: "db-x" })).status).toBe(403);
      const checks = await ok(call(n.url, "GET", "/v1/health/checks/db", n.management));
      const c = checks.find((x: any) => x.CheckID === "db-check");
      expect(c.Status).toBe("critical");
      expect(c.ServiceID).toBe("db-x");
      // Its own node check is its to change.
      await ok(call(n.url, "PUT", "/v1/catalog/register", t, { Node: "victim", Address: "10.0.0.1", Check: { CheckID: "victim-ping", Name: "ping", Status: "passing" } }));
    });

    test("catalog: a new node name with an existing node's ID does not take that node over", async () => {
      const t = await token(n, "fresh-node", 'node "fresh" { policy = "write" }');
      const victimId = (await catalogNode(n, "victim")).Node.ID as string;
      const r = await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "fresh", ID: victimId, Address: "6.6.6.6" });
      expect(r.status).toBe(400);
      expect(String(r.body)).toContain("belongs to node");
      const victim = await catalogNode(n, "victim");
      expect(victim.Node.Address).toBe("10.0.0.1");
      expect(Object.keys(victim.Services)).toEqual(["db-x"]);
      expect(await catalogNode(n, "fresh")).toBeNull();
      // A member node's ID neither.
      const self = (await ok(call(n.url, "GET", "/v1/nodes", n.management)))[0];
      expect((await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "fresh", ID: self.id, Address: "6.6.6.6" })).status).toBe(400);
    });

    test("catalog: writing to another node's entry needs node write on that node, in any spelling of its name", async () => {
      const t = await token(n, "all-nodes-but-victim", 'node_prefix "" { policy = "write" }\nnode "victim" { policy = "deny" }\nservice_prefix "" { policy = "write" }');
      expect((await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "VICTIM", Address: "6.6.6.6" })).status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/catalog/deregister", t, { Node: "Victim" })).status).toBe(403);
      expect((await catalogNode(n, "victim")).Node.Address).toBe("10.0.0.1");
    });
  });

  test("a job's task services need service write: a job-only token cannot put instances under another service's name", async () => {
    const t = await token(n, "job-only", 'job "sneaky" { policy = "write" }\nservice "own-svc" { policy = "write" }');
    const job = (service: string) => ({
      id: "sneaky",
      groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: BUN, args: ["-e", "setInterval(() => {}, 1000)"], resources: { cpu: 20, memory: 32 }, service: { name: service } }] }],
    });
    const refused = await call(n.url, "POST", "/v1/jobs", t, job("db"), { "content-type": "application/json" });
    expect(refused.status).toBe(403);
    expect((await call(n.url, "GET", "/v1/job/sneaky", n.management)).status).toBe(404);
    await ok(call(n.url, "POST", "/v1/jobs", t, job("own-svc"), { "content-type": "application/json" }));
    await ok(call(n.url, "DELETE", "/v1/job/sneaky?purge", n.management));
  });

  describe("canonical names: a deny on a name holds for every spelling of it", () => {
    test("reads of a denied service or node in other letter cases are refused", async () => {
      const t = await token(n, "no-secret", 'service_prefix "" { policy = "read" }\nservice "secret" { policy = "deny" }\nnode_prefix "" { policy = "read" }\nnode "vault" { policy = "deny" }');
      expect((await call(n.url, "GET", "/v1/health/service/secret", t)).status).toBe(403);
      for (const p of ["/v1/health/service/SECRET", "/v1/catalog/service/Secret", "/v1/health/checks/sEcReT"]) {
        const r = await call(n.url, "GET", p, t);
        expect(`${p} ${r.status}`).toBe(`${p} 403`);
      }
      for (const p of ["/v1/catalog/node/VAULT", "/v1/health/node/Vault"]) {
        const r = await call(n.url, "GET", p, t);
        expect(`${p} ${r.status}`).toBe(`${p} 403`);
      }
      // Lists drop it whatever the case of the rule.
      const t2 = await token(n, "no-secret-upper", 'service_prefix "" { policy = "read" }\nservice "SECRET" { policy = "deny" }');
      const list = await ok(call(n.url, "GET", "/v1/catalog/services", t2));
      expect(Object.keys(list)).not.toContain("secret");
      expect(Object.keys(list)).toContain("db");
    });

    test("registering a denied name in another case is refused (no DNS hijack)", async () => {
      const t = await token(n, "all-but-secret", 'service_prefix "" { policy = "write" }\nservice "secret" { policy = "deny" }\nnode_prefix "" { policy = "write" }\nnode "vault" { policy = "deny" }');
      expect((await call(n.url, "PUT", "/v1/agent/service/register", t, { ID: "hijack", Name: "SECRET", Port: 6666 })).status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "mine", Address: "10.0.0.3", Service: { ID: "hijack2", Service: "Secret", Port: 6666 } })).status).toBe(403);
      expect((await call(n.url, "PUT", "/v1/catalog/register", t, { Node: "VAULT", Address: "6.6.6.6" })).status).toBe(403);
      const inst = await ok(call(n.url, "GET", "/v1/catalog/service/secret", n.management));
      expect(inst.map((i: any) => i.ServiceID)).toEqual(["secret-1"]);
      expect((await catalogNode(n, "vault")).Node.Address).toBe("10.0.0.9");
    });

    test("an intention denying web → db also denies a call to DB", async () => {
      await ok(call(n.url, "POST", "/v1/connect/intentions", n.management, { SourceName: "web", DestinationName: "*", Action: "allow" }));
      await ok(call(n.url, "POST", "/v1/connect/intentions", n.management, { SourceName: "web", DestinationName: "db", Action: "deny" }));
      for (const [src, dst] of [["web", "db"], ["web", "DB"], ["WEB", "Db"]]) {
        const r = await ok(call(n.url, "GET", `/v1/connect/intentions/check?source=${src}&destination=${dst}`, n.management));
        expect(`${src}->${dst} ${r.Allowed}`).toBe(`${src}->${dst} false`);
      }
      expect((await ok(call(n.url, "GET", "/v1/connect/intentions/check?source=web&destination=api", n.management))).Allowed).toBe(true);
    });

    test("a write rule in one case grants the same name in any case (one name, one rule)", async () => {
      const t = await token(n, "web-upper", 'service "WEB" { policy = "write" }');
      await ok(call(n.url, "PUT", "/v1/agent/service/register", t, { ID: "web-1", Name: "web", Port: 80 }));
    });
  });
});

describe("leader + agent: an agent decides as the leader does", () => {
  let leader: Node;
  let agentUrl: string;
  let agentNodeId: string;
  let allocId: string;
  let agentDataDir: string;
  const AGENT = "agent-sw";
  beforeAll(async () => {
    const pair = await startPair(AGENT);
    leader = pair.leader;
    agentUrl = pair.agent.url;
    agentDataDir = pair.agent.dataDir;
    agentNodeId = pair.agentNodeId;
    await ok(call(leader.url, "POST", "/v1/jobs", leader.management, {
      id: "secret",
      groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: BUN, args: ["-e", "console.log('secret output'); setInterval(() => {}, 1000)"], resources: { cpu: 100, memory: 64 } }] }],
    }, { "content-type": "application/json" }));
    allocId = await eventually(async () => {
      const r = await call(leader.url, "GET", "/v1/job/secret/allocations", leader.management);
      const a = (r.body as any[]).find((x) => x.clientStatus === "running");
      return a?.id as string | undefined;
    }, 30_000);
    await ok(call(leader.url, "PUT", "/v1/catalog/register", leader.management, {
      Node: "ext", Address: "10.1.0.1", Service: { ID: "db-e", Service: "db", Port: 5432 },
      Check: { CheckID: "db-e-check", Name: "alive", ServiceID: "db-e", Status: "critical" },
    }));
  }, 90_000);
  afterAll(async () => {
    await call(leader.url, "DELETE", "/v1/job/secret?purge", leader.management).catch(() => {});
    await sleep(1500);
    await killAll();
    reapTasks(agentDataDir); // the last test kills the leader: the task may still run
  });

  test("an allocation, its logs and a node's allocations: refused through the agent as on the leader", async () => {
    const t = await token(leader, "no-secret-job", `job_prefix "" { policy = "read" }\njob "secret" { policy = "deny" }\nnode_prefix "" { policy = "read" }\nnode "${AGENT}" { policy = "deny" }`);
    for (const path of [`/v1/allocation/${allocId}`, `/v1/allocation/${allocId.slice(0, 8)}`, `/v1/alloc/${allocId}/logs`, `/v1/alloc/${allocId.slice(0, 8)}/logs`, `/v1/node/${agentNodeId}/allocations`, `/v1/node/${agentNodeId}`]) {
      const onLeader = await call(leader.url, "GET", path, t);
      const onAgent = await call(agentUrl, "GET", path, t);
      expect(`${path} leader ${onLeader.status} agent ${onAgent.status}`).toBe(`${path} leader 403 agent 403`);
    }
    // The same token reads what it may, through either.
    const mayRead = await token(leader, "jobs-read", `job_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }`);
    for (const url of [leader.url, agentUrl]) {
      expect((await call(url, "GET", `/v1/allocation/${allocId}`, mayRead)).status).toBe(200);
      // By full ID and by prefix (a prefix is resolved on the state, as the ACL check resolved it).
      for (const id of [allocId, allocId.slice(0, 8)]) {
        const logs = await eventually(async () => {
          const r = await fetch(`${url}/v1/alloc/${id}/logs`, { headers: { "X-Consul-Token": mayRead } });
          const text = await r.text();
          return r.status === 200 && text.includes("secret output") && text;
        }, 10_000);
        expect(logs).toContain("secret output");
      }
    }
  });

  test("catalog writes through an agent need service write and ownership, as on the leader", async () => {
    const t = await token(leader, "ext-node", 'node "ext" { policy = "write" }\nservice "evil" { policy = "write" }');
    for (const url of [leader.url, agentUrl]) {
      const reg = await call(url, "PUT", "/v1/catalog/register", t, { Node: "ext", Address: "10.1.0.1", Service: { ID: "db-new", Service: "db", Port: 1 } });
      const takeover = await call(url, "PUT", "/v1/catalog/register", t, { Node: "ext", Address: "10.1.0.1", Service: { ID: "db-e", Service: "evil", Port: 1 } });
      const check = await call(url, "PUT", "/v1/catalog/deregister", t, { Node: "ext", CheckID: "db-e-check" });
      const dup = await call(url, "PUT", "/v1/catalog/register", t, '{"Node":"ext","node":"other","Address":"1.1.1.1"}');
      expect(`${url === agentUrl ? "agent" : "leader"} ${reg.status} ${takeover.status} ${check.status} ${dup.status}`)
        .toBe(`${url === agentUrl ? "agent" : "leader"} 403 403 403 400`);
    }
    // What may be written still goes through the agent, body intact (parsed there, forwarded as sent).
    await ok(call(agentUrl, "PUT", "/v1/catalog/register", leader.management, { Node: "ext2", Address: "10.1.0.2", Service: { ID: "ok-1", Service: "ok", Port: 7 } }));
    expect((await ok(call(leader.url, "GET", "/v1/catalog/node/ext2", leader.management))).Services["ok-1"].Port).toBe(7);
    const ext = await ok(call(leader.url, "GET", "/v1/catalog/node/ext", leader.management));
    expect(Object.keys(ext.Services)).toEqual(["db-e"]);
    expect(ext.Services["db-e"].Service).toBe("db");
    const checks = await ok(call(leader.url, "GET", "/v1/health/checks/db", leader.management));
    expect(checks.find((c: any) => c.CheckID === "db-e-check")?.Status).toBe("critical");
  });

  test("an intention by ID: the agent checks its real destination, as the leader does", async () => {
    const created = await ok(call(leader.url, "POST", "/v1/connect/intentions", leader.management, { SourceName: "web", DestinationName: "db", Action: "deny" }));
    const t = await token(leader, "intentions-but-db", 'service_prefix "" { policy = "read" intentions = "write" }\nservice "db" { policy = "deny" }');
    for (const url of [leader.url, agentUrl]) {
      expect((await call(url, "GET", `/v1/connect/intentions/${created.ID}`, t)).status).toBe(403);
      expect((await call(url, "DELETE", `/v1/connect/intentions/${created.ID}`, t)).status).toBe(403);
    }
    expect((await call(leader.url, "GET", `/v1/connect/intentions/${created.ID}`, leader.management)).body.Action).toBe("deny");
  });

  test("case variants of a denied service are refused through the agent too", async () => {
    const t = await token(leader, "agent-no-secret", 'service_prefix "" { policy = "write" }\nservice "db" { policy = "deny" }');
    expect((await call(agentUrl, "GET", "/v1/health/service/DB", t)).status).toBe(403);
    expect((await call(agentUrl, "PUT", "/v1/agent/service/register", t, { ID: "x", Name: "Db", Port: 1 })).status).toBe(403);
    expect((await getJson(`${agentUrl}/v1/catalog/service/db`, { headers: { "X-Consul-Token": t } })).status).toBe(403);
  });

  // Last: it stops the leader.
  test("an agent that cannot ask a leader refuses (503) rather than guessing, even for logs it serves itself", async () => {
    const t = await token(leader, "no-secret-job-2", `job_prefix "" { policy = "read" }\njob "secret" { policy = "deny" }`);
    expect((await call(agentUrl, "GET", `/v1/alloc/${allocId}/logs`, t)).status).toBe(403); // the token is now in the agent's cache
    await leader.proc.kill();
    const r = await call(agentUrl, "GET", `/v1/alloc/${allocId}/logs`, t);
    expect(r.status).toBe(503);
  });
});
