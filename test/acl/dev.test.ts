// ACLs on a dev node (a real process): bootstrap once, the token lifecycle,
// every write route refusing missing, forged and deleted tokens (found by
// walking the live route table), prefix rules, list filtering, intentions,
// the audit log, and secrets that never show again.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { killAll, sleep, eventually } from "../helpers/proc.ts";
import { call, samplePath, startAclNode, tokenWith, type AclNode } from "./helpers.ts";

let n: AclNode;
const secretsSeen: string[] = [];

beforeAll(async () => {
  n = await startAclNode();
  secretsSeen.push(n.management);
});
afterAll(() => killAll());

describe("bootstrap", () => {
  test("works once; the second call gets Consul's 403 text", async () => {
    const again = await call(n.url, "PUT", "/v1/acl/bootstrap");
    expect(again.status).toBe(403);
    expect(again.headers.get("content-type")).toContain("text/plain");
    expect(String(again.body)).toMatch(/^Permission denied: ACL bootstrap no longer allowed \(reset index: \d+\)$/);
  });

  test("the management token can do everything; anonymous nothing", async () => {
    expect((await call(n.url, "PUT", "/v1/kv/boot", n.management, "v")).status).toBe(200);
    const anon = await call(n.url, "PUT", "/v1/kv/boot", undefined, "v");
    expect(anon.status).toBe(403);
    expect(anon.body).toBe("Permission denied");
    expect((await call(n.url, "GET", "/v1/plugins")).body).toEqual([]); // filtered, not refused
  });
});

describe("tokens", () => {
  test("create shows the secret once; reads show it masked", async () => {
    const t = await tokenWith(n, "reader", 'key_prefix "" { policy = "read" }');
    secretsSeen.push(t.secret);
    expect(t.secret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const read = await call(n.url, "GET", `/v1/acl/token/${t.accessor}`, n.management);
    expect(read.status).toBe(200);
    expect(read.body.SecretID).toBe("<hidden>");
    expect(read.body.Policies.map((p: { Name: string }) => p.Name)).toEqual(["reader"]);
    const self = await call(n.url, "GET", "/v1/acl/token/self", t.secret);
    expect(self.body.AccessorID).toBe(t.accessor);
    expect(self.body.SecretID).toBe("<hidden>");
    const list = await call(n.url, "GET", "/v1/acl/tokens", n.management);
    expect(JSON.stringify(list.body)).not.toContain(t.secret);
    expect(list.body.every((x: { SecretID: string }) => x.SecretID === "<hidden>")).toBe(true);
  });

  test("the three token sources, Consul's order: ?token= first", async () => {
    const t = await tokenWith(n, "src", 'key "src" { policy = "write" }');
    secretsSeen.push(t.secret);
    expect((await call(n.url, "PUT", `/v1/kv/src?token=${t.secret}`, undefined, "1")).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/src", undefined, "1", { Authorization: `bearer ${t.secret}` })).status).toBe(200);
    expect((await call(n.url, "PUT", `/v1/kv/src?token=${t.secret}`, "bogus", "1")).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/src?token=bogus", t.secret, "1")).status).toBe(403);
  });

  test("update changes policies; delete makes the token unknown at once", async () => {
    const t = await tokenWith(n, "temp", 'key "temp" { policy = "write" }');
    secretsSeen.push(t.secret);
    expect((await call(n.url, "PUT", "/v1/kv/temp", t.secret, "1")).status).toBe(200);
    const up = await call(n.url, "PUT", `/v1/acl/token/${t.accessor}`, n.management, { Description: "none now", Policies: [] });
    expect(up.status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/temp", t.secret, "1")).status).toBe(403);
    expect((await call(n.url, "DELETE", `/v1/acl/token/${t.accessor}`, n.management)).body).toBe(true);
    const gone = await call(n.url, "PUT", "/v1/kv/temp", t.secret, "1");
    expect(gone.status).toBe(403);
    expect(gone.body).toBe("ACL not found");
    expect((await call(n.url, "GET", `/v1/acl/token/${t.accessor}`, n.management)).status).toBe(403);
  });

  test("bad rules and unknown policies are 400s; the anonymous token cannot be deleted", async () => {
    const bad = await call(n.url, "PUT", "/v1/acl/policy", n.management, { Name: "bad", Rules: 'key "a" { policy = "admin" }' });
    expect(bad.status).toBe(400);
    expect(String(bad.body)).toContain("invalid rules");
    expect((await call(n.url, "PUT", "/v1/acl/token", n.management, { Policies: [{ Name: "nope" }] })).status).toBe(400);
    expect((await call(n.url, "DELETE", "/v1/acl/token/00000000-0000-0000-0000-000000000002", n.management)).status).toBe(403);
  });
});

describe("every write route refuses missing, forged and deleted tokens", () => {
  test("walk of the live route table", async () => {
    const deleted = await tokenWith(n, "doomed", 'key_prefix "" { policy = "write" }\nservice_prefix "" { policy = "write" }');
    await call(n.url, "DELETE", `/v1/acl/token/${deleted.accessor}`, n.management);
    const routes = (await call(n.url, "GET", "/v1/operator/routes", n.management)).body as { method: string; path: string; permission: string; hidden: boolean }[];
    const writes = routes.filter((r) => r.method !== "GET");
    expect(writes.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const r of writes) {
      const path = samplePath(r.path);
      for (const [label, token] of [["no token", undefined], ["forged token", crypto.randomUUID()], ["deleted token", deleted.secret]] as const) {
        // A transaction is decided op by op (Consul's /v1/txn): a denied op is a 409 "Permission denied" at its index.
        if (r.path === "/v1/txn") {
          const res = await call(n.url, r.method, path, token, [{ KV: { Verb: "set", Key: "walk/txn", Value: "" } }], { "content-type": "application/json" });
          const denied = res.status === 409 && JSON.stringify(res.body).includes("Permission denied");
          if (!denied && res.status !== 403) failures.push(`${r.method} ${r.path} (${label}): ${res.status} ${JSON.stringify(res.body).slice(0, 80)}`);
          continue;
        }
        const res = await call(n.url, r.method, path, token, "{}", { "content-type": "application/json" });
        const want = r.permission === "peer" ? 401 : r.permission === "authenticated" && !token ? [403, 405] : 403;
        if (!(Array.isArray(want) ? want : [want]).includes(res.status)) failures.push(`${r.method} ${r.path} (${label}): ${res.status} ${JSON.stringify(res.body).slice(0, 80)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);
});

describe("rules at work", () => {
  test("prefix rules, exact beats prefix, recursive delete needs the whole subtree", async () => {
    const t = await tokenWith(n, "app", 'key_prefix "app/" { policy = "write" }\nkey "app/locked" { policy = "read" }');
    secretsSeen.push(t.secret);
    expect((await call(n.url, "PUT", "/v1/kv/app/a", t.secret, "1")).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/kv/app/locked", t.secret, "1")).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/kv/other", t.secret, "1")).status).toBe(403);
    expect((await call(n.url, "DELETE", "/v1/kv/app/?recurse", t.secret)).status).toBe(403);
    expect((await call(n.url, "DELETE", "/v1/kv/app/a", t.secret)).status).toBe(200);
  });

  test("KV and catalog listings are filtered, not refused", async () => {
    await call(n.url, "PUT", "/v1/kv/team/x", n.management, "1");
    await call(n.url, "PUT", "/v1/kv/secret/y", n.management, "1");
    const t = await tokenWith(n, "team", 'key_prefix "team/" { policy = "read" }\nservice "web" { policy = "read" }');
    secretsSeen.push(t.secret);
    const all = await call(n.url, "GET", "/v1/kv/?keys", t.secret);
    expect(all.status).toBe(200);
    expect(all.body).toEqual(["team/x"]);
    expect(all.headers.get("x-consul-results-filtered-by-acls")).toBe("true");
    expect((await call(n.url, "GET", "/v1/kv/secret/y", t.secret)).status).toBe(403);
    for (const [id, name] of [["web-1", "web"], ["db-1", "db"]]) {
      expect((await call(n.url, "PUT", "/v1/agent/service/register", n.management, { ID: id, Name: name, Port: 80 })).status).toBe(200);
    }
    const services = await call(n.url, "GET", "/v1/catalog/services", t.secret);
    expect(Object.keys(services.body)).toEqual(["web"]);
    expect((await call(n.url, "GET", "/v1/catalog/service/db", t.secret)).status).toBe(403);
    expect(Object.keys((await call(n.url, "GET", "/v1/agent/services", t.secret)).body)).toEqual(["web-1"]);
  });

  test("a service identity registers its own service only", async () => {
    const t = await tokenWith(n, "svc", "", ["api"]);
    secretsSeen.push(t.secret);
    expect((await call(n.url, "PUT", "/v1/agent/service/register", t.secret, { ID: "api-1", Name: "api", Port: 81 })).status).toBe(200);
    expect((await call(n.url, "PUT", "/v1/agent/service/register", t.secret, { ID: "x-1", Name: "other", Port: 81 })).status).toBe(403);
    expect((await call(n.url, "PUT", "/v1/agent/service/deregister/web-1", t.secret)).status).toBe(403);
    expect((await call(n.url, "GET", "/v1/catalog/services", t.secret)).status).toBe(200);
  });
});

describe("intentions", () => {
  test("create, exact, check, filtered list, delete", async () => {
    const m = n.management;
    const created = await call(n.url, "POST", "/v1/connect/intentions", m, { SourceName: "web", DestinationName: "db", Action: "allow" });
    expect(created.status).toBe(200);
    expect(created.body.ID).toBeString();
    expect((await call(n.url, "POST", "/v1/connect/intentions", m, { SourceName: "web", DestinationName: "db", Action: "deny" })).status).toBe(409);
    expect((await call(n.url, "PUT", "/v1/connect/intentions/exact?source=*&destination=db", m, { Action: "deny" })).body).toBe(true);
    const check = (s: string, d: string) => call(n.url, "GET", `/v1/connect/intentions/check?source=${s}&destination=${d}`, m);
    expect((await check("web", "db")).body).toEqual({ Allowed: true });
    expect((await check("api", "db")).body).toEqual({ Allowed: false });
    expect((await check("api", "cache")).body).toEqual({ Allowed: false }); // default deny
    const exact = await call(n.url, "GET", "/v1/connect/intentions/exact?source=web&destination=db", m);
    expect(exact.body).toMatchObject({ SourceName: "web", DestinationName: "db", Action: "allow", Precedence: 9 });
    const reader = await tokenWith(n, "db-reader", 'service "db" { policy = "read" }');
    secretsSeen.push(reader.secret);
    expect((await call(n.url, "GET", "/v1/connect/intentions", reader.secret)).body.length).toBe(2);
    expect((await call(n.url, "PUT", "/v1/connect/intentions/exact?source=x&destination=db", reader.secret, { Action: "allow" })).status).toBe(403);
    expect((await call(n.url, "DELETE", `/v1/connect/intentions/${created.body.ID}`, m)).body).toBe(true);
    expect((await call(n.url, "GET", "/v1/connect/intentions/exact?source=web&destination=db", m)).status).toBe(404);
    expect((await call(n.url, "POST", "/v1/connect/intentions", m, { SourceName: "we*", DestinationName: "db", Action: "allow" })).status).toBe(400);
  });
});

describe("audit log", () => {
  test("writes are recorded with accessor, route, status and address; reading needs operator:read", async () => {
    const t = await tokenWith(n, "auditee", 'key "audited" { policy = "write" }');
    secretsSeen.push(t.secret);
    await call(n.url, "PUT", "/v1/kv/audited", t.secret, "1");
    await call(n.url, "PUT", "/v1/kv/not-allowed", t.secret, "1");
    const records = await eventually(async () => {
      const r = await call(n.url, "GET", `/v1/audit?accessor=${t.accessor}`, n.management);
      return r.body.length >= 2 ? r.body : undefined;
    }, 5_000);
    expect(records[0]).toMatchObject({ accessor: t.accessor, method: "PUT", path: "/v1/kv/not-allowed", route: "PUT /v1/kv/{key}", status: 403, remote: "127.0.0.1" });
    expect(records[1]).toMatchObject({ path: "/v1/kv/audited", status: 200 });
    expect((await call(n.url, "GET", "/v1/audit", t.secret)).status).toBe(403);
    expect((await call(n.url, "GET", "/v1/audit?path=/v1/acl/bootstrap&limit=1", n.management)).body[0].path).toBe("/v1/acl/bootstrap");
  });
});

describe("secrets never show again", () => {
  test("not in logs, answers after creation, the database files, or a snapshot", async () => {
    await sleep(300); // audit batches flushed, WAL written
    expect(secretsSeen.length).toBeGreaterThan(8);
    const snapshot = await call(n.url, "GET", "/v1/snapshot", n.management);
    const answers = JSON.stringify([
      (await call(n.url, "GET", "/v1/acl/tokens", n.management)).body, snapshot.body,
      (await call(n.url, "GET", "/v1/audit?limit=1000", n.management)).body,
    ]);
    const dataDir = n.proc.dataDir;
    const files = readdirSync(dataDir).filter((f) => f.startsWith("state.db")).map((f) => readFileSync(join(dataDir, f)).toString("latin1"));
    expect(files.length).toBeGreaterThan(0);
    for (const s of secretsSeen) {
      expect(n.proc.output()).not.toContain(s);
      expect(answers).not.toContain(s);
      for (const f of files) expect(f.includes(s)).toBe(false);
    }
  });
});
