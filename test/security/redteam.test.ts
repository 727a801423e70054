// Red team of the merged issue-13 fixes: holes found in the seams between
// them, each shown against real processes (a dev node with ACLs on, a real
// echo backend, raw HTTP/1.1 where the bytes matter). Every test here failed
// on the merge it was written against (see the report of branch redteam).
//
// - credentials: the invoke proxy stripped `Authorization` only when strictly
//   `Bearer <UUID>`, while corral authenticates the lenient form (words after
//   the token, NBSP around it): the caller's token reached the backend;
// - fair limits: the stream cap classified requests by the raw URL path, the
//   router by the decoded one: `/v1/even%74s` opened event streams past every
//   per-token and per-address cap;
// - Host syntax: `Host: localhost:1@evil` passed the allow-list as
//   "localhost", the runtime built the URL with host "evil", handlers 500'd.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUN, ENTRY, ROOT, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { killBackends, register, startBackend, waitPassing, type Backend } from "../invoke/helpers.ts";
import { head, json, rawRequest } from "./helpers-browser.ts";

let n: AclNode;
let proc: CorralProcess;
let backend: Backend;
/** service "echo" read: may call it through /v1/invoke. */
let caller: string;

const LIMITS = "[http]\nmax_streams_per_token = 2\nmax_streams_per_address = 3\n";

beforeAll(async () => {
  n = await startAclNode(LIMITS);
  proc = n.proc;
  backend = await startBackend("echo");
  await register(proc, "echo", backend, { token: n.management });
  await waitPassing(proc, "echo", 1, 10_000, n.management);
  const allow = await call(n.url, "PUT", "/v1/connect/intentions/exact?source=*&destination=echo", n.management, { Action: "allow" });
  expect(allow.status).toBe(200);
  caller = (await tokenWith(n, "echo-caller", 'service "echo" { policy = "read" }')).secret;
}, 90_000);

afterAll(async () => {
  await killBackends();
  await killAll();
});

interface Echo {
  path: string;
  headers: Record<string, string>;
}

describe("credentials stay home (class 7): every Authorization form corral authenticates is stripped", () => {
  test("Bearer <token> with words after it, or NBSP around it: corral authorizes the call with the token, the backend never sees it", async () => {
    const forms = [`Bearer ${caller} x`, `Bearer\xa0${caller}`, `Bearer ${caller}\xa0`, `bearer  ${caller}\t,`];
    for (const auth of forms) {
      const r = await rawRequest(proc.port, head("GET", "/v1/invoke/echo/echo", { Host: `127.0.0.1:${proc.port}`, Authorization: auth }));
      // 200, not 403: corral read this value as the caller's token (anonymous may not read service "echo").
      expect(r.status, JSON.stringify(auth)).toBe(200);
      const e = json<Echo>(r);
      expect(JSON.stringify(e.headers), JSON.stringify(auth)).not.toContain(caller);
    }
    // The control: anonymous is refused, so the 200s above were the token's.
    const anon = await rawRequest(proc.port, head("GET", "/v1/invoke/echo/echo", { Host: `127.0.0.1:${proc.port}` }));
    expect(anon.status).toBe(403);
  }, 30_000);
});

describe("fair limits (class 16): the caps count what the router routes", () => {
  test("event streams opened as /v1/even%74s count against the token's and the address's caps", async () => {
    const ctl = new AbortController();
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () =>
        fetch(`${n.url}/v1/even%74s`, { headers: { "X-Consul-Token": n.management }, signal: ctl.signal })
          .then(async (r) => ({ status: r.status, body: r.status === 200 ? "" : await r.text() }))));
      const ok = answers.filter((a) => a.status === 200).length;
      // max_streams_per_token = 2: one token may hold two, whatever the spelling of the path.
      expect(ok).toBe(2);
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBe(3);
      expect(JSON.parse(refused[0]!.body)).toMatchObject({ code: "TOO_MANY_STREAMS" });
    } finally {
      ctl.abort();
    }
  }, 30_000);
});

describe("Host syntax (class 4/15): only host[:port] is read as a Host", () => {
  test("a Host with userinfo, a path or a query is a 400 INVALID_HOST, never the allow-list's 'localhost' nor a 500", async () => {
    for (const h of ["localhost:1@evil", `127.0.0.1:${proc.port}@evil.example`, "localhost/v1", "localhost?x"]) {
      const r = await rawRequest(proc.port, head("GET", "/v1/kv/app?raw", { Host: h, "X-Consul-Token": n.management }));
      expect(r.status, h).toBe(400);
      expect(json(r), h).toMatchObject({ code: "INVALID_HOST" });
    }
    // The guard's answers quote the caller's Host or Origin: inert like every other answer.
    const refusals = [
      await rawRequest(proc.port, head("GET", "/v1/kv/app", { Host: "localhost:1@<svg onload=alert(1)>" })),
      await rawRequest(proc.port, head("GET", "/v1/kv/app", { Host: "evil.example" })),
      await rawRequest(proc.port, head("POST", "/v1/jobs", { Host: `127.0.0.1:${proc.port}`, Origin: "http://<svg>.example", "Content-Length": 0 })),
    ];
    expect(refusals.map((r) => r.status)).toEqual([400, 421, 403]);
    for (const r of refusals) {
      expect(r.headers["content-security-policy"], String(r.status)).toBe("sandbox");
      expect(r.headers["x-content-type-options"], String(r.status)).toBe("nosniff");
    }
    // Valid forms still pass: names, addresses, IPv6 literals, trailing dots, any port.
    for (const h of [`127.0.0.1:${proc.port}`, "localhost", "localhost.:1", "[::1]:80", "LOCALHOST"]) {
      const r = await rawRequest(proc.port, head("GET", "/v1/status/leader", { Host: h, "X-Consul-Token": n.management }));
      expect(r.status, h).toBe(200);
    }
    const health = await getJson(`${n.url}/v1/healthz`);
    expect(health.status).toBe(200);
  }, 30_000);
});

interface AuditRow {
  method: string;
  path: string;
  route: string;
  status: number;
  accessor: string;
}

/** The audit records (newest first) once one matching `pred` is there. */
async function auditedOnce(pred: (r: AuditRow) => boolean): Promise<AuditRow> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await call(n.url, "GET", "/v1/audit", n.management);
    const rows: AuditRow[] = Array.isArray(r.body) ? r.body : (r.body?.records ?? []);
    const hit = rows.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no audit record matched; newest: ${JSON.stringify(rows.slice(0, 5))}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe("audit (class 10): the route recorded is the one that answered, and early refusals are recorded", () => {
  test("a service deregistration is recorded as PUT /v1/agent/service/deregister/{id}, not as the 405 route of GET /v1/agent/service/{id} that also matches its path", async () => {
    const id = `gone-${Date.now()}`;
    const r = await call(n.url, "PUT", `/v1/agent/service/deregister/${id}`, n.management);
    expect(r.status).toBe(404);
    const row = await auditedOnce((a) => a.path === `/v1/agent/service/deregister/${id}`);
    expect(row.route).toBe("PUT /v1/agent/service/deregister/{id}");
    // The same for a refused one (the route's own ACL middleware answered 403).
    const denied = await call(n.url, "PUT", `/v1/agent/service/maintenance/${id}?enable=true`, caller);
    expect([403, 404]).toContain(denied.status);
    const row2 = await auditedOnce((a) => a.path === `/v1/agent/service/maintenance/${id}`);
    expect(row2.route).toBe("PUT /v1/agent/service/maintenance/{id}");
    // Request metrics took the same wrong route: their label is the answering route's too.
    const metrics = await fetch(`${n.url}/metrics`, { headers: { "X-Consul-Token": n.management } });
    const text = await metrics.text();
    const putRoutes = [...text.matchAll(/^corral_http_requests_total\{(.*)\} \S+$/gm)].map((m) => m[1]!).filter((l) => l.includes('method="PUT"'));
    expect(putRoutes.some((l) => l.includes('route="/v1/agent/service/deregister/{id}"'))).toBe(true);
    expect(putRoutes.some((l) => l.includes('route="/v1/agent/service/{id}"'))).toBe(false);
    // A registration was recorded as the same 405 route, too.
    const reg = await call(n.url, "PUT", "/v1/agent/service/register", n.management, { ID: id, Name: "audited", Port: 1 });
    expect(reg.status).toBe(200);
    const row3 = await auditedOnce((a) => a.path === "/v1/agent/service/register" && a.status === 200);
    expect(row3.route).toBe("PUT /v1/agent/service/register");
  }, 30_000);

  test("writes the browser guard refuses (cross-site Origin: 403, foreign Host: 421) are in the audit log with their status", async () => {
    const marker = `/v1/kv/redteam-early-${Date.now()}`;
    const xsite = await rawRequest(proc.port, head("PUT", marker, { Host: `127.0.0.1:${proc.port}`, Origin: "http://evil.example", "Content-Length": 2 }), "hi");
    expect(xsite.status).toBe(403);
    const rebound = await rawRequest(proc.port, head("PUT", `${marker}-host`, { Host: "evil.example", "Content-Length": 2 }), "hi");
    expect(rebound.status).toBe(421);
    const a = await auditedOnce((r) => r.path === marker);
    expect(a).toMatchObject({ method: "PUT", status: 403, accessor: "" });
    const b = await auditedOnce((r) => r.path === `${marker}-host`);
    expect(b).toMatchObject({ method: "PUT", status: 421 });
  }, 30_000);
});

describe("no pre-auth body reads (class 6): the browser guard checks a signature header before reading a body", () => {
  test("a foreign Host with a forged X-Corral-Signature is refused before its body arrives", async () => {
    const forged = `t=${Date.now()},n=${"a".repeat(32)},node=evil,l=60000,b=${"0".repeat(64)},sig=${"0".repeat(64)}`;
    for (const [what, fields] of [
      ["foreign Host", { Host: "evil.example" }],
      ["cross-site Origin", { Host: `127.0.0.1:${proc.port}`, Origin: "http://evil.example" }],
    ] as const) {
      // 60,000 bytes announced, none sent: an answer within 5 s means nothing waited for them.
      const r = await rawRequest(proc.port, head("POST", "/v1/jobs", { ...fields, "X-Corral-Signature": forged, "Content-Type": "application/json", "Content-Length": 60_000 }), "", 5_000);
      expect(r.status, what).toBeGreaterThanOrEqual(400);
      expect([403, 421], what).toContain(r.status);
    }
  }, 30_000);
});

describe("bad state (class 13): a backup whose JSON columns do not hold JSON is refused before it is proposed", () => {
  test("a job spec, a service's tags that are not JSON, a spec that is a number, `{}` or another job's: 400 INVALID_SNAPSHOT naming the table, state unchanged", async () => {
    const dev = await startCorral({ role: "dev" });
    try {
      const job = { id: "kept", groups: [{ name: "g", tasks: [{ name: "t", command: "/bin/sleep", args: ["300"], resources: { cpu: 10, memory: 16 } }] }] };
      const created = await getJson(`${dev.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job) });
      expect(created.status).toBe(200);
      const reg = await fetch(`${dev.url}/v1/agent/service/register`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ Name: "svc", ID: "svc-1", Port: 1, Tags: ["a"] }) });
      expect(reg.status).toBe(200);
      const snap = await fetch(`${dev.url}/v1/snapshot`);
      expect(snap.status).toBe(200);
      const good = await snap.text();
      const corrupt = (table: string, column: string, value: unknown) => {
        const d = JSON.parse(good);
        const t = d.tables[table];
        expect(t?.rows.length, table).toBeGreaterThan(0);
        t.rows[0][t.columns.indexOf(column)] = value;
        return JSON.stringify(d);
      };
      for (const [table, column, value] of [["jobs", "spec", "{not json"], ["services", "tags", "not json"], ["job_versions", "spec", "42"], ["jobs", "spec", "{}"], ["jobs", "spec", JSON.stringify({ id: "other", groups: [] })]] as const) {
        const r = await getJson(`${dev.url}/v1/snapshot`, { method: "PUT", headers: { "content-type": "application/json" }, body: corrupt(table, column, value) });
        expect(r.status, `${table}.${column}`).toBe(400);
        expect(JSON.stringify(r.body), `${table}.${column}`).toContain(`table ${table}`);
      }
      // Nothing was restored: the job list and the job still read.
      const jobs = await getJson(`${dev.url}/v1/jobs`);
      expect(jobs.status).toBe(200);
      expect(jobs.body.map((j: { id: string }) => j.id)).toContain("kept");
      expect((await getJson(`${dev.url}/v1/job/kept`)).status).toBe(200);
      // The genuine backup still restores.
      const ok = await getJson(`${dev.url}/v1/snapshot`, { method: "PUT", headers: { "content-type": "application/json" }, body: good });
      expect(ok.status).toBe(200);
    } finally {
      // The job's task outlives its killed node by design: end it, or every run leaves a sleep behind.
      await dev.kill();
      reapTasks(dev.dataDir);
    }
  }, 60_000);
});

describe("answers are not shared between different queries (class 1/2): the read cache keys a query unambiguously", () => {
  test("a client asking ?passing%3D%26tag=x (one unknown parameter) does not plant its answer for ?passing&tag=x", async () => {
    const reg = async (body: unknown) => {
      const r = await call(n.url, "PUT", "/v1/agent/service/register", n.management, body);
      expect(r.status).toBe(200);
    };
    await reg({ Name: "rt-web", ID: "rt-web-ok", Port: 1, Tags: ["x"], Check: { CheckID: "rt-ok", TTL: "10m", Status: "passing" } });
    await reg({ Name: "rt-web", ID: "rt-web-bad", Port: 2, Tags: [], Check: { CheckID: "rt-bad", TTL: "10m", Status: "critical" } });
    const ids = async (query: string) => {
      const r = await call(n.url, "GET", `/v1/health/service/rt-web?${query}`, n.management);
      expect(r.status, query).toBe(200);
      return (r.body as { Service: { ID: string } }[]).map((e) => e.Service.ID).sort();
    };
    // The attacker asks first, right after a change, so its answer is the one computed and kept.
    await reg({ Name: "rt-other", ID: `rt-other-${Date.now()}`, Port: 3 });
    expect(await ids("passing%3D%26tag=x")).toEqual(["rt-web-bad", "rt-web-ok"]);
    // Then the victim's query (a load balancer's "healthy instances tagged x") gets its own answer.
    expect(await ids("passing&tag=x")).toEqual(["rt-web-ok"]);
    expect(await ids("tag=x&passing=true")).toEqual(["rt-web-ok"]);
    // The other way round too: the victim first, then the attacker's spelling is not served the victim's answer.
    await reg({ Name: "rt-other", ID: `rt-other-${Date.now()}-2`, Port: 3 });
    expect(await ids("passing&tag=x")).toEqual(["rt-web-ok"]);
    expect(await ids("passing%3D%26tag=x")).toEqual(["rt-web-bad", "rt-web-ok"]);
  }, 30_000);
});

describe("files (class 9): a saved backup is 0600 whatever was there before", () => {
  test("`corral operator snapshot save FILE` over a leftover FILE.part of mode 0644 writes a 0600 backup", () => {
    const dir = tempDir("corral-rt-backup-");
    const file = join(dir, "backup.json");
    // A leftover of an interrupted save, or planted by another user in a shared folder.
    writeFileSync(file + ".part", "stale", { mode: 0o644 });
    const r = spawnSync(BUN, [ENTRY, "operator", "snapshot", "save", file, "--addr", n.url, "--token", n.management], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  }, 30_000);
});

describe("local trust (class 14): no directory above plugins.dir lets another user plant code", () => {
  test("a sticky, world-writable parent (like /tmp) is refused: another user's node_modules/zod there would run as the node", async () => {
    const base = join(ROOT, ".tmp");
    mkdirSync(base, { recursive: true });
    const shared = mkdtempSync(join(base, "rt-sticky-"));
    try {
      chmodSync(shared, 0o1777); // /tmp's mode
      const own = join(shared, "corral");
      const dir = join(own, "plugins");
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(own, 0o755);
      chmodSync(dir, 0o755);
      // The node user's own, well-formed plugin: it imports zod, as docs/plugins.md shows.
      writeFileSync(join(dir, "mine.ts"), `import { z } from "zod";\nexport default { name: "mine", version: "1.0.0", configSchema: z.object({}).strict(), setup() { return {}; } };\n`, { mode: 0o644 });
      // Another user (nobody) creates node_modules/zod in the shared parent: resolution finds it before the real one.
      const marker = join(shared, "planted-ran");
      const pkg = join(shared, "node_modules", "zod");
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "zod", main: "index.js" }));
      writeFileSync(join(pkg, "index.js"), `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran as uid " + process.getuid()); exports.z = { object: () => ({ strict: () => ({}) }) };\n`);
      for (const p of [join(shared, "node_modules"), pkg, join(pkg, "package.json"), join(pkg, "index.js")]) chownSync(p, 65534, 65534);
      const node = await startCorral({ config: `[plugins]\ndir = "${dir}"\n` });
      expect(existsSync(marker) ? readFileSync(marker, "utf8") : "did not run").toBe("did not run");
      expect(node.output()).toContain("plugins.dir refused");
      expect(node.output()).toContain("node_modules");
      await node.kill();
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("one token per call (class 1/7): the invoke route's ACL check and its intention check judge the same token", () => {
  test("one token's service:read paired with another token's service identity does not make a call neither may make", async () => {
    const rtBackend = await startBackend("rt-db");
    await register(proc, "rt-db", rtBackend, { token: n.management });
    await waitPassing(proc, "rt-db", 1, 10_000, n.management);
    const allow = await call(n.url, "PUT", "/v1/connect/intentions/exact?source=rt-web&destination=rt-db", n.management, { Action: "allow" });
    expect(allow.status).toBe(200);
    // A: may read rt-db, has no service identity (intentions: no source, default deny).
    const reader = (await tokenWith(n, "rt-db-reader", 'service "rt-db" { policy = "read" }')).secret;
    // B: the identity rt-web (allowed to call rt-db), but its policy denies rt-db outright.
    const denied = (await tokenWith(n, "rt-web-denied", 'service "rt-db" { policy = "deny" }', ["rt-web"])).secret;
    const invoke = (headers: Record<string, string>) =>
      rawRequest(proc.port, head("GET", "/v1/invoke/rt-db/echo", { Host: `127.0.0.1:${proc.port}`, ...headers }));
    expect((await invoke({ "X-Consul-Token": reader })).status).toBe(403); // intention: no identity
    expect((await invoke({ "X-Corral-Token": denied })).status).toBe(403); // ACL: deny
    const before = await rtBackend.served();
    for (const pair of [
      { "X-Consul-Token": reader, "X-Corral-Token": denied } as Record<string, string>,
      { Authorization: `Bearer ${reader}`, "X-Corral-Token": denied },
    ]) {
      const r = await invoke(pair);
      expect(r.status, JSON.stringify(Object.keys(pair))).toBe(403);
    }
    const q = await rawRequest(proc.port, head("GET", `/v1/invoke/rt-db/echo?token=${reader}`, { Host: `127.0.0.1:${proc.port}`, "X-Corral-Token": denied }));
    expect(q.status).toBe(403);
    expect(await rtBackend.served()).toBe(before);
  }, 60_000);
});
