// GET /v1/summary (the dashboard overview's counts) and ?prefix on the jobs
// and nodes lists, against a real dev node with ACLs on: each count is of
// what the asking token may read — a narrow token learns nothing of the
// rest — and the prefix narrows in the server, under the same ACL filtering.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;

const job = (id: string) => ({ id, groups: [{ name: "g", count: 0, tasks: [{ name: "t", command: "/bin/true", resources: { cpu: 10, memory: 16 } }] }] });

beforeAll(async () => {
  n = await startAclNode();
  for (const id of ["web-1", "web-2", "web-3", "db-1", "db-2"]) {
    const r = await call(n.url, "POST", "/v1/jobs", n.management, job(id));
    if (r.status !== 200) throw new Error(`register ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}, 60_000);

afterAll(async () => {
  await killAll();
});

describe("GET /v1/summary", () => {
  test("management: every job and node, by status", async () => {
    const r = await call(n.url, "GET", "/v1/summary", n.management);
    expect(r.status).toBe(200);
    expect(r.body.jobs.total).toBe(5);
    expect(Object.values(r.body.jobs.byStatus as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(5);
    expect(r.body.nodes.total).toBe(1);
    expect(r.body.allocations.total).toBe(0);
    expect(r.headers.get("x-consul-results-filtered-by-acls")).toBeNull();
  });

  test("a narrow token counts only what it may read", async () => {
    const web = (await tokenWith(n, "web-jobs", `job_prefix "web-" { policy = "read" }`)).secret;
    const r = await call(n.url, "GET", "/v1/summary", web);
    expect(r.status).toBe(200);
    expect(r.body.jobs.total).toBe(3);
    expect(r.body.nodes.total).toBe(0); // no node rules: not even the node's own existence
    expect(r.headers.get("x-consul-results-filtered-by-acls")).toBe("true");
    // Its lists agree with its counts.
    const list = await call(n.url, "GET", "/v1/jobs?per_page=100", web);
    expect(list.body.map((j: { id: string }) => j.id)).toEqual(["web-1", "web-2", "web-3"]);
  });

  test("the anonymous token (default deny) sees zeros; a bad token is refused", async () => {
    const anon = await call(n.url, "GET", "/v1/summary");
    expect(anon.status).toBe(200);
    expect([anon.body.jobs.total, anon.body.nodes.total, anon.body.allocations.total]).toEqual([0, 0, 0]);
    const bad = await call(n.url, "GET", "/v1/summary", "00000000-0000-4000-8000-00000000dead");
    expect(bad.status).toBe(403);
    expect(bad.body.code).toBeString();
  });
});

describe("GET /v1/summary after a change", () => {
  test("a new job is counted at once (the counts are kept only until their tables change)", async () => {
    expect((await call(n.url, "GET", "/v1/summary", n.management)).body.jobs.total).toBe(5);
    const r = await call(n.url, "POST", "/v1/jobs", n.management, job("cache-1"));
    expect(r.status).toBe(200);
    expect((await call(n.url, "GET", "/v1/summary", n.management)).body.jobs.total).toBe(6);
  });
});

describe("?prefix on /v1/jobs and /v1/nodes", () => {
  test("jobs by ID prefix, paged, and only what the token reads", async () => {
    const r = await call(n.url, "GET", "/v1/jobs?prefix=web-&per_page=2", n.management);
    expect(r.body.map((j: { id: string }) => j.id)).toEqual(["web-1", "web-2"]);
    const next = r.headers.get("x-corral-nexttoken");
    expect(next).toBeString();
    const r2 = await call(n.url, "GET", `/v1/jobs?prefix=web-&per_page=2&next_token=${encodeURIComponent(next!)}`, n.management);
    expect(r2.body.map((j: { id: string }) => j.id)).toEqual(["web-3"]);
    expect(r2.headers.get("x-corral-nexttoken")).toBeNull();
    const db = (await tokenWith(n, "db-jobs", `job_prefix "db-" { policy = "read" }`)).secret;
    const hidden = await call(n.url, "GET", "/v1/jobs?prefix=web-", db);
    expect(hidden.body).toEqual([]);
    // In a namespace the prefix is a range of the key.
    const ns = await call(n.url, "GET", "/v1/jobs?namespace=default&prefix=db", n.management);
    expect(ns.body.map((j: { id: string }) => j.id)).toEqual(["db-1", "db-2"]);
  });

  test("nodes by name prefix; a prefix too long is a 400 JSON error", async () => {
    const all = await call(n.url, "GET", "/v1/nodes", n.management);
    const name = all.body[0].name as string;
    const hit = await call(n.url, "GET", `/v1/nodes?prefix=${encodeURIComponent(name.slice(0, 3))}`, n.management);
    expect(hit.body.map((x: { name: string }) => x.name)).toEqual([name]);
    const miss = await call(n.url, "GET", `/v1/nodes?prefix=${encodeURIComponent(name + "-not")}`, n.management);
    expect(miss.body).toEqual([]);
    const long = await call(n.url, "GET", `/v1/nodes?prefix=${"x".repeat(300)}`, n.management);
    expect(long.status).toBe(400);
    expect(long.body.code).toBeString();
  });
});
