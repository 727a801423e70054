// Security issue 13, read side: every variant of a read is authorized like
// the plain read of what it returns, and nothing about what a token may not
// read leaks through values, key names, headers, status codes or indexes.
// A real dev node (ACLs on, default deny) with a populated state, attacked
// anonymously and with narrow tokens.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { openSse } from "../helpers/sse.ts";
import { call, tokenWith } from "../acl/helpers.ts";
import { grantAnonymous, leaderWithAgent, observe, populate, SECRETS, VARIANTS, withVariant, type ReadsWorld } from "./helpers-reads.ts";

let w: ReadsWorld;
beforeAll(async () => {
  w = await populate();
}, 90_000);
afterAll(async () => {
  await killAll();
  // The job's task outlives a killed node (workloads are sacred): end it, or every run leaves one behind.
  if (w) reapTasks(w.n.proc.dataDir);
});

const ANON = undefined;

function expectNoSecret(text: string) {
  for (const s of [SECRETS.kvValue, SECRETS.kvKey, "secret/", SECRETS.serviceMeta, SECRETS.checkOutput, SECRETS.taskEnv]) expect(text).not.toContain(s);
}

describe("KV reads", () => {
  test("?recurse&raw answers no hidden value, anonymous or with a key_prefix \"app/\" token", async () => {
    for (const token of [ANON, w.app]) {
      for (const v of VARIANTS) {
        const hidden = await observe(w.n.url, withVariant("/v1/kv/secret/?recurse&raw", v), token);
        const absent = await observe(w.n.url, withVariant("/v1/kv/nothing-here/?recurse&raw", v), token);
        expectNoSecret(hidden.body);
        expect(hidden).toEqual(absent);
      }
    }
  });

  test("?recurse from the root lists only readable keys; ?raw with ?recurse stays a JSON list (Consul)", async () => {
    const r = await call(w.n.url, "GET", "/v1/kv/?recurse&raw", w.app);
    expect(r.status).toBe(200);
    expect(r.body.map((e: { Key: string }) => e.Key)).toEqual(["app/config"]);
    expectNoSecret(JSON.stringify(r.body));
    expect((await call(w.n.url, "GET", "/v1/kv/?keys&separator=/", w.app)).body).toEqual(["app/"]);
  });

  test("?keys: a prefix with only hidden keys answers as one with no keys (status, body, headers)", async () => {
    for (const token of [ANON, w.app]) {
      for (const q of ["?keys", "?keys&separator=/", "?recurse", "?recurse&keys"]) {
        for (const v of VARIANTS) {
          const hidden = await observe(w.n.url, withVariant(`/v1/kv/secret/${q}`, v), token);
          const absent = await observe(w.n.url, withVariant(`/v1/kv/nothing-here/${q}`, v), token);
          expect({ q, v, ...hidden }).toEqual({ q, v, ...absent });
        }
      }
    }
  });

  test("HEAD answers like GET: no 200-vs-404 on hidden keys", async () => {
    for (const q of ["?keys", "?recurse"]) {
      const hidden = await observe(w.n.url, `/v1/kv/secret/${q}`, w.app, "HEAD");
      const absent = await observe(w.n.url, `/v1/kv/nothing-here/${q}`, w.app, "HEAD");
      expect(hidden).toEqual(absent);
    }
  });

  test("X-Consul-Index does not move when a hidden key changes, and a blocking read keeps waiting", async () => {
    const before = await observe(w.n.url, "/v1/kv/?recurse", w.app);
    const idx = before.headers["x-consul-index"]!;
    expect((await call(w.n.url, "PUT", "/v1/kv/secret/rotated", w.n.management, "x")).status).toBe(200);
    await call(w.n.url, "DELETE", "/v1/kv/secret/rotated", w.n.management);
    const after = await observe(w.n.url, "/v1/kv/?recurse", w.app);
    expect(after.headers["x-consul-index"]).toBe(idx);
    // Blocking on the index: a hidden write must not wake the caller with a new index.
    const held = observe(w.n.url, `/v1/kv/?recurse&index=${idx}&wait=1500ms`, w.app);
    await call(w.n.url, "PUT", "/v1/kv/secret/again", w.n.management, "y");
    expect((await held).headers["x-consul-index"]).toBe(idx);
    // A visible write does move it.
    await call(w.n.url, "PUT", "/v1/kv/app/new", w.n.management, "z");
    expect(Number((await observe(w.n.url, "/v1/kv/?recurse", w.app)).headers["x-consul-index"])).toBeGreaterThan(Number(idx));
  });

  test("a missing key the token may read: its index ignores the hidden keys below it", async () => {
    // exactKey reads the key "secret" and nothing under "secret/".
    const before = await observe(w.n.url, "/v1/kv/secret", w.exactKey);
    expect(before.status).toBe(404);
    await call(w.n.url, "PUT", "/v1/kv/secret/moved", w.n.management, "x");
    const after = await observe(w.n.url, "/v1/kv/secret", w.exactKey);
    expect(after).toEqual(before);
  });

  test("an exact key rule covers that key only, not the subtree below it (the same subtree check guards ?recurse deletes)", async () => {
    const t = await tokenWith(w.n, "exact-write", 'key "secret" { policy = "write" }');
    const del = await call(w.n.url, "DELETE", "/v1/kv/secret?recurse", t.secret);
    expect(del.status).toBe(403);
    expect((await call(w.n.url, "GET", `/v1/kv/${SECRETS.kvKey}`, w.n.management)).status).toBe(200);
  });
});

describe("?filter= runs after ACL filtering; the header depends on the token only", () => {
  const lists = [
    ["/v1/catalog/services", 'ServiceName == "vault"', 'ServiceName == "nope"'],
    ["/v1/catalog/nodes", 'Node == "nope" or Node != "nope"', 'Node == "nope"'],
    ["/v1/health/state/any", 'ServiceName == "vault"', 'ServiceName == "nope"'],
    ["/v1/health/state/critical", 'Output contains "check-output"', 'Output contains "nope"'],
    ["/v1/agent/services", 'Service == "vault"', 'Service == "nope"'],
    ["/v1/agent/checks", 'Output contains "check-output"', 'Output contains "nope"'],
    ["/v1/agent/checks", 'ServiceName == "vault"', 'ServiceName == "nope"'],
  ] as const;
  for (const [path, matchesHidden, matchesNothing] of lists) {
    test(`${path}?filter=${matchesHidden}`, async () => {
      for (const v of VARIANTS) {
        const hidden = await observe(w.n.url, withVariant(`${path}?filter=${encodeURIComponent(matchesHidden)}`, v), w.web);
        const none = await observe(w.n.url, withVariant(`${path}?filter=${encodeURIComponent(matchesNothing)}`, v), w.web);
        expectNoSecret(hidden.body);
        expect({ v, ...hidden }).toEqual({ v, ...none });
      }
      const headHidden = await observe(w.n.url, `${path}?filter=${encodeURIComponent(matchesHidden)}`, w.web, "HEAD");
      const headNone = await observe(w.n.url, `${path}?filter=${encodeURIComponent(matchesNothing)}`, w.web, "HEAD");
      expect(headHidden).toEqual(headNone);
    });
  }
});

describe("composite answers: each part by its own rule", () => {
  test("a node's catalog entry lists only the services the token may read", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/catalog/node/${w.nodeName}`, v), w.nodeReader);
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body);
      expect(Object.keys(body.Services)).toEqual(["web-1"]);
      expectNoSecret(r.body);
      expect(r.headers["x-consul-results-filtered-by-acls"]).toBe("true");
    }
  });

  test("a node's health lists only the checks of readable services (node checks need node read)", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/health/node/${w.nodeName}`, v), w.nodeReader);
      expect(r.status).toBe(200);
      const checks = JSON.parse(r.body) as { ServiceName: string }[];
      expect(checks.every((c) => c.ServiceName === "" || c.ServiceName === "web")).toBe(true);
      expectNoSecret(r.body);
    }
  });

  test("a node's allocations: only jobs the token may read, never their env", async () => {
    for (const v of VARIANTS) {
      const r = await observe(w.n.url, withVariant(`/v1/node/${w.nodeId}/allocations`, v), w.nodeReader);
      expect(r.status).toBe(200);
      expect(r.body).not.toContain(SECRETS.taskEnv);
      expect(r.body).not.toContain(SECRETS.jobId);
    }
  });
});

describe("names match case-insensitively: the handler checks the name of what it found", () => {
  test("a node or a service asked for in another case is refused exactly as under its own name when that name is denied", async () => {
    const t = (await tokenWith(w.n, "case-deny", [
      'node_prefix "" { policy = "read" }', `node "${w.nodeName}" { policy = "deny" }`,
      'service_prefix "" { policy = "read" }', 'service "vault" { policy = "deny" }',
    ].join("\n"))).secret;
    const upper = w.nodeName.toUpperCase();
    if (upper !== w.nodeName) {
      // The rule matcher folds case too (core/acl/policy.ts canonicalSegment): the route's own
      // check refuses the name in any case, exactly as it refuses the name as registered.
      for (const route of ["/v1/catalog/node/", "/v1/health/node/"]) {
        const asRegistered = await call(w.n.url, "GET", route + w.nodeName, t);
        const inOtherCase = await call(w.n.url, "GET", route + upper, t);
        expect(asRegistered.status).toBe(403);
        expect(inOtherCase.status).toBe(asRegistered.status);
        expect(inOtherCase.body).toEqual(asRegistered.body);
      }
    }
    for (const route of ["/v1/health/checks/", "/v1/catalog/service/", "/v1/health/service/"]) {
      const asRegistered = await observe(w.n.url, route + "vault", t);
      const inOtherCase = await observe(w.n.url, route + "VAULT", t);
      expect(asRegistered.status).toBe(403);
      expect(inOtherCase.status).toBe(asRegistered.status);
      expect(inOtherCase.body).toBe(asRegistered.body);
    }
  });
});

describe("summaries of what the token may not read", () => {
  test("a node's registration digest (counts, a hash over every service) needs read on every service", async () => {
    const r = await call(w.n.url, "GET", `/v1/discovery/digest/${w.nodeId}`, w.nodeReader);
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain("services");
    expect((await call(w.n.url, "GET", `/v1/discovery/digest/${w.nodeId}`, w.n.management)).status).toBe(200);
  });
});

describe("indexes move only with what the token may see", () => {
  test("catalog/services: a hidden service registered and removed moves no index, and a blocking read keeps waiting", async () => {
    const before = await observe(w.n.url, "/v1/catalog/services", w.web);
    const idx = before.headers["x-consul-index"]!;
    await call(w.n.url, "PUT", "/v1/agent/service/register", w.n.management, { ID: "vault-2", Name: "vault", Port: 8201 });
    await call(w.n.url, "PUT", "/v1/agent/service/deregister/vault-2", w.n.management);
    expect(await observe(w.n.url, "/v1/catalog/services", w.web)).toEqual(before);
    const held = observe(w.n.url, `/v1/catalog/services?index=${idx}&wait=1500ms`, w.web);
    await call(w.n.url, "PUT", "/v1/agent/service/register", w.n.management, { ID: "vault-3", Name: "vault", Port: 8202 });
    expect((await held).headers["x-consul-index"]).toBe(idx);
    await call(w.n.url, "PUT", "/v1/agent/service/deregister/vault-3", w.n.management);
  });

  test("health/state and a node's catalog entry and health: a hidden service's check moves no index", async () => {
    const paths = ["/v1/health/state/any", "/v1/health/state/critical", `/v1/catalog/node/${w.nodeName}`, `/v1/health/node/${w.nodeName}`];
    const before = await Promise.all(paths.map((p) => observe(w.n.url, p, w.nodeReader)));
    await call(w.n.url, "PUT", "/v1/agent/check/pass/vault-ttl?note=ok", w.n.management);
    await call(w.n.url, "PUT", "/v1/agent/service/register", w.n.management, { ID: "vault-4", Name: "vault", Port: 8203, Meta: { token: SECRETS.serviceMeta } });
    const after = await Promise.all(paths.map((p) => observe(w.n.url, p, w.nodeReader)));
    for (let i = 0; i < paths.length; i++) expect({ path: paths[i], ...after[i] }).toEqual({ path: paths[i], ...before[i] });
    await call(w.n.url, "PUT", "/v1/agent/service/deregister/vault-4", w.n.management);
    await call(w.n.url, "PUT", `/v1/agent/check/fail/vault-ttl?note=${SECRETS.checkOutput}`, w.n.management);
  });

  test("a node the token may read but that does not exist: hidden nodes move none of its indexes", async () => {
    const t = (await tokenWith(w.n, "ghost-node", 'node "ghost" { policy = "read" }')).secret;
    const paths = ["/v1/catalog/node/ghost", "/v1/health/node/ghost", "/v1/catalog/nodes"];
    const before = await Promise.all(paths.map((p) => observe(w.n.url, p, t)));
    const ext = { Node: "hidden-ext", Address: "10.9.9.9", Service: { ID: "x-1", Service: "vault", Port: 1 } };
    expect((await call(w.n.url, "PUT", "/v1/catalog/register", w.n.management, ext)).status).toBe(200);
    const after = await Promise.all(paths.map((p) => observe(w.n.url, p, t)));
    for (let i = 0; i < paths.length; i++) expect({ path: paths[i], ...after[i] }).toEqual({ path: paths[i], ...before[i] });
    await call(w.n.url, "PUT", "/v1/catalog/deregister", w.n.management, { Node: "hidden-ext" });
  });

  test("/v1/jobs: a hidden job registered moves no index", async () => {
    const before = await call(w.n.url, "GET", "/v1/jobs", w.nodeReader);
    expect(before.body).toEqual([]);
    // Cannot be placed (no node has that memory): a job row and an evaluation, no process.
    const job = { id: "payroll-2", groups: [{ name: "g", count: 1, tasks: [{ name: "t", command: "true", resources: { cpu: 1, memory: 100_000_000 } }] }] };
    expect((await call(w.n.url, "POST", "/v1/jobs", w.n.management, job, { "content-type": "application/json" })).status).toBeLessThan(300);
    const after = await call(w.n.url, "GET", "/v1/jobs", w.nodeReader);
    expect(after.body).toEqual([]);
    expect(after.headers.get("x-corral-index")).toBe(before.headers.get("x-corral-index"));
  });
});

describe("instances and names the token may not read", () => {
  test("an instance list shows only instances on nodes the token may read (Consul's filterServiceNodes)", async () => {
    // w.web reads the service "web" and no node.
    for (const path of ["/v1/catalog/service/web", "/v1/health/service/web"]) {
      const r = await observe(w.n.url, path, w.web);
      expect(r.status).toBe(200);
      expect(r.body).toBe("[]");
      expect(r.body).not.toContain(w.nodeId);
      expect(r.headers["x-consul-results-filtered-by-acls"]).toBe("true");
    }
    const withNode = await call(w.n.url, "GET", "/v1/catalog/service/web", w.nodeReader);
    expect(withNode.body.map((i: { ServiceID: string }) => i.ServiceID)).toEqual(["web-1"]);
  });

  test("/v1/allocations?node= a node the token may not read answers as an unknown one", async () => {
    const t = (await tokenWith(w.n, "jobs-only", 'job_prefix "" { policy = "read" }')).secret;
    const hidden = await observe(w.n.url, `/v1/allocations?node=${w.nodeName}`, t);
    const unknown = await observe(w.n.url, `/v1/allocations?node=${w.nodeName}-nope`, t);
    expect(hidden.status).toBe(404);
    expect(hidden.body.replace(`${w.nodeName}`, "X")).toBe(unknown.body.replace(`${w.nodeName}-nope`, "X"));
  });
});

describe("the event stream", () => {
  test("each event is filtered by the rule of what it describes", async () => {
    const s = await openSse(`${w.n.url}/v1/events?index=0`, { "X-Consul-Token": w.events });
    expect(s.status).toBe(200);
    // Live events too: a hidden key written now, then a visible one that tells us the stream got there.
    await call(w.n.url, "PUT", "/v1/kv/secret/live", w.n.management, "x");
    await call(w.n.url, "PUT", "/v1/kv/app/marker", w.n.management, "x");
    await s.until((msgs) => msgs.some((m) => m.data.includes("app/marker")), 15_000);
    await s.cancel();
    const seen = s.raw();
    expect(seen).toContain("app/config");
    expect(seen).toContain('"web"');
    expectNoSecret(seen);
    expect(seen).not.toContain("vault");
    expect(seen).not.toContain(SECRETS.jobId);
    // Allocation events name no job, only an allocation id: they are filtered by the allocation's job.
    expect(s.messages.filter((m) => m.event === "allocation" || m.event === "job")).toEqual([]);
  });
});

describe("through an agent: the leader cuts a forwarded read to the client's token", () => {
  test("anonymous and a narrow token via an agent: no hidden key, no 200-vs-404, no hidden event", async () => {
    const { leader, agentUrl } = await leaderWithAgent();
    await grantAnonymous(leader, "anon-app", 'key_prefix "app/" { policy = "read" }\nevent_prefix "" { policy = "read" }');
    const app = (await tokenWith(leader, "agent-app-reader", 'key_prefix "app/" { policy = "read" }\nevent_prefix "" { policy = "read" }')).secret;
    for (const token of [ANON, app]) {
      for (const q of ["?keys", "?recurse", "?recurse&raw"]) {
        const hidden = await observe(agentUrl, `/v1/kv/secret/${q}`, token);
        const absent = await observe(agentUrl, `/v1/kv/nothing-here/${q}`, token);
        expectNoSecret(hidden.body);
        expect({ q, ...hidden }).toEqual({ q, ...absent });
      }
      const s = await openSse(`${agentUrl}/v1/events?index=0`, token ? { "X-Consul-Token": token } : {});
      expect(s.status).toBe(200);
      await call(leader.url, "PUT", "/v1/kv/app/marker", leader.management, "x");
      await s.until((msgs) => msgs.some((m) => m.data.includes("app/marker")), 15_000);
      await s.cancel();
      expectNoSecret(s.raw());
    }
    // A token deleted on the leader reads nothing more through the agent, though the agent still caches it (token_ttl 60 s).
    const gone = await tokenWith(leader, "agent-gone", 'key_prefix "app/" { policy = "read" }');
    expect((await call(agentUrl, "GET", "/v1/kv/app/config", gone.secret)).status).toBe(200);
    expect((await call(leader.url, "DELETE", `/v1/acl/token/${gone.accessor}`, leader.management)).status).toBe(200);
    const after = await call(agentUrl, "GET", "/v1/kv/app/config", gone.secret);
    expect(after.status).toBe(403);
    expect(after.body).toBe("ACL not found");
    // What they may read still reads through the agent.
    for (const token of [ANON, app]) expect((await call(agentUrl, "GET", "/v1/kv/?recurse", token)).body.map((e: { Key: string }) => e.Key)).toEqual(["app/config", "app/marker"]);
  }, 60_000);
});
