// Variable ACLs against a dev node with ACLs on (default deny): no token,
// a narrow token, a read-only token, the list filtered at the source, and
// prefix attacks: `jobs/web/*` must not reach `jobs/web2`, an exact rule
// must not reach below itself.
import { afterAll, expect, test } from "bun:test";
import { killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith } from "../acl/helpers.ts";

afterAll(() => killAll());

test("variable rules by path: no token, narrow token, read-only, filtered list, prefix attacks", async () => {
  const n = await startAclNode();
  const put = (path: string, token?: string) => call(n.url, "PUT", `/v1/var/${path}`, token, { Items: { k: `v-${path}` } });
  for (const p of ["jobs/web/db", "jobs/web2/db", "jobs/webby", "jobs/api/x"]) expect((await put(p, n.management)).status).toBe(200);

  // No token: anonymous, default deny.
  expect((await call(n.url, "GET", "/v1/var/jobs/web/db")).status).toBe(403);
  expect((await put("jobs/web/db")).status).toBe(403);
  const anonList = await call(n.url, "GET", "/v1/vars?prefix=jobs/");
  expect(anonList.status).toBe(200);
  expect(anonList.body).toEqual([]);

  const web = await tokenWith(n, "web", 'variable "jobs/web/*" { policy = "write" }');
  expect((await put("jobs/web/db", web.secret)).status).toBe(200);
  expect((await put("jobs/web/new/deeper", web.secret)).status).toBe(200);
  const read = await call(n.url, "GET", "/v1/var/jobs/web/db", web.secret);
  expect(read.status).toBe(200);
  expect(read.body.Items).toEqual({ k: "v-jobs/web/db" });
  // The prefix attack: jobs/web2 and jobs/webby start with "jobs/web" but are not under "jobs/web/".
  for (const p of ["jobs/web2/db", "jobs/webby", "jobs/api/x"]) {
    expect({ p, status: (await call(n.url, "GET", `/v1/var/${p}`, web.secret)).status }).toEqual({ p, status: 403 });
    expect({ p, status: (await put(p, web.secret)).status }).toEqual({ p, status: 403 });
    expect({ p, status: (await call(n.url, "DELETE", `/v1/var/${p}`, web.secret)).status }).toEqual({ p, status: 403 });
  }
  const list = await call(n.url, "GET", "/v1/vars?prefix=jobs/", web.secret);
  expect(list.status).toBe(200);
  expect(list.body.map((m: { Path: string }) => m.Path)).toEqual(["jobs/web/db", "jobs/web/new/deeper"]);
  expect(list.headers.get("x-consul-results-filtered-by-acls")).toBe("true");
  // An absent path the token may not read is 403, not 404: absence is not told either.
  expect((await call(n.url, "GET", "/v1/var/jobs/web2/absent", web.secret)).status).toBe(403);
  expect((await call(n.url, "GET", "/v1/var/jobs/web/absent", web.secret)).status).toBe(404);

  // An exact rule names one path only.
  const exact = await tokenWith(n, "exact", 'variable "jobs/web" { policy = "read" }');
  expect((await call(n.url, "GET", "/v1/var/jobs/web/db", exact.secret)).status).toBe(403);
  expect((await call(n.url, "GET", "/v1/var/jobs/web2/db", exact.secret)).status).toBe(403);

  // Read-only: reads, never writes; deny inside a broader grant wins there.
  const ro = await tokenWith(n, "ro", 'variable_prefix "jobs/" { policy = "read" }\nvariable "jobs/api/*" { policy = "deny" }');
  expect((await call(n.url, "GET", "/v1/var/jobs/web2/db", ro.secret)).status).toBe(200);
  expect((await put("jobs/web2/db", ro.secret)).status).toBe(403);
  expect((await call(n.url, "GET", "/v1/var/jobs/api/x", ro.secret)).status).toBe(403);
  const roList = await call(n.url, "GET", "/v1/vars", ro.secret);
  expect(roList.body.map((m: { Path: string }) => m.Path)).not.toContain("jobs/api/x");

  // Nomad's "list" would read items here: refused when the policy is written.
  const listPolicy = await call(n.url, "PUT", "/v1/acl/policy", n.management, { Name: "lister", Rules: 'variable "jobs/*" { policy = "list" }' });
  expect(listPolicy.status).toBe(400);
  expect(JSON.stringify(listPolicy.body)).toContain("list");

  // The keyring is operator business.
  expect((await call(n.url, "POST", "/v1/operator/keyring/rotate", web.secret)).status).toBe(403);
  expect((await call(n.url, "GET", "/v1/operator/keyring/keys", web.secret)).status).toBe(403);
  expect((await call(n.url, "POST", "/v1/operator/keyring/rotate", n.management)).status).toBe(200);
}, 120_000);
