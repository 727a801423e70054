// Blocking reads of variables (docs/variables.md "Blocking reads"), against
// a dev node with ACLs on: ?index=N on one path and on the list waits for a
// change and answers with X-Corral-Index (X-Nomad-Index too); a delete wakes
// it; an absent path waits for its creation. The ACL side: a token's wait
// is woken, and its index moved, only by paths it may read: writes and
// deletes elsewhere neither end the wait early nor change the index. And a
// task's template re-renders on a variable change at once, not after 30 s.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, killAll, sleep } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let team: string;

beforeAll(async () => {
  n = await startAclNode(`\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`);
  team = (await tokenWith(n, "team", 'variable "team/*" { policy = "read" }')).secret;
}, 60_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/var-watch?purge", n.management).catch(() => {});
  await sleep(500);
  await killAll();
  if (n) reapTasks(n.proc.dataDir);
});

const put = (path: string, v: string) => call(n.url, "PUT", `/v1/var/${path}`, n.management, { Items: { k: v } });
const indexOf = (r: { headers: Headers }) => Number(r.headers.get("x-corral-index"));

/** Starts a request now; `after` runs once it is under way; the answer and how long it took. */
async function during<T>(req: () => Promise<T>, after: () => Promise<unknown>): Promise<{ r: T; ms: number }> {
  const t0 = Date.now();
  const p = req().then((r) => ({ r, ms: Date.now() - t0 }));
  await sleep(400);
  await after();
  return p;
}

describe("one path", () => {
  test("?index waits for a write, then a delete; an absent path waits for its creation", async () => {
    expect((await put("team/a", "1")).status).toBe(200);
    const first = await call(n.url, "GET", "/v1/var/team/a", team);
    expect(first.status).toBe(200);
    const i1 = indexOf(first);
    expect(i1).toBe(first.body.ModifyIndex);
    expect(first.headers.get("x-nomad-index")).toBe(String(i1));

    const written = await during(() => call(n.url, "GET", `/v1/var/team/a?index=${i1}&wait=20s`, team), () => put("team/a", "2"));
    expect(written.r.body.Items).toEqual({ k: "2" });
    expect(indexOf(written.r)).toBeGreaterThan(i1);
    expect(written.ms).toBeLessThan(15_000);

    const i2 = indexOf(written.r);
    const deleted = await during(() => call(n.url, "GET", `/v1/var/team/a?index=${i2}&wait=20s`, team), () => call(n.url, "DELETE", "/v1/var/team/a", n.management));
    expect(deleted.r.status).toBe(404);
    expect(deleted.r.body.code).toBe("VARIABLE_NOT_FOUND");
    const i3 = indexOf(deleted.r);
    expect(i3).toBeGreaterThan(i2);

    const created = await during(() => call(n.url, "GET", `/v1/var/team/a?index=${i3}&wait=20s`, team), () => put("team/a", "3"));
    expect(created.r.status).toBe(200);
    expect(created.r.body.Items).toEqual({ k: "3" });
  }, 60_000);

  test("bad ?index or ?wait is a 400 with a JSON error", async () => {
    for (const q of ["index=x", "index=1&wait=soon"]) {
      const r = await call(n.url, "GET", `/v1/var/team/a?${q}`, team);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_INPUT");
    }
  });

  test("writes and deletes of paths the token cannot read neither wake its wait nor move its index", async () => {
    expect((await put("team/quiet", "1")).status).toBe(200);
    expect((await put("secret/x", "0")).status).toBe(200);
    const at = indexOf(await call(n.url, "GET", "/v1/var/team/quiet", team));
    const hidden = await during(() => call(n.url, "GET", `/v1/var/team/quiet?index=${at}&wait=2s`, team), async () => {
      await put("secret/x", "1");
      await call(n.url, "DELETE", "/v1/var/secret/x", n.management);
      await put("secret/y", "1");
    });
    expect(hidden.ms).toBeGreaterThanOrEqual(1_800);
    expect(indexOf(hidden.r)).toBe(at);
    // A path the token may not read is refused before any wait.
    const refused = await during(() => call(n.url, "GET", `/v1/var/secret/y?index=1&wait=5s`, team), async () => {});
    expect(refused.r.status).toBe(403);
    expect(refused.ms).toBeLessThan(2_000);
  }, 30_000);
});

describe("the list", () => {
  test("?index on /v1/vars wakes only for readable paths; its index is theirs", async () => {
    expect((await put("team/l1", "1")).status).toBe(200);
    const first = await call(n.url, "GET", "/v1/vars?prefix=", team);
    const at = indexOf(first);
    expect(first.body.every((m: { Path: string }) => m.Path.startsWith("team/"))).toBe(true);
    expect(at).toBe(Math.max(...first.body.map((m: { ModifyIndex: number }) => m.ModifyIndex)));

    const hidden = await during(() => call(n.url, "GET", `/v1/vars?prefix=&index=${at}&wait=2s`, team), async () => {
      await put("secret/z", "1");
      await call(n.url, "DELETE", "/v1/var/secret/z", n.management);
    });
    expect(hidden.ms).toBeGreaterThanOrEqual(1_800);
    expect(indexOf(hidden.r)).toBe(at);
    expect(JSON.stringify(hidden.r.body)).not.toContain("secret/");

    const seen = await during(() => call(n.url, "GET", `/v1/vars?prefix=&index=${at}&wait=20s`, team), () => put("team/l2", "1"));
    expect(seen.ms).toBeLessThan(15_000);
    expect(seen.r.body.map((m: { Path: string }) => m.Path)).toContain("team/l2");
    const at2 = indexOf(seen.r);
    // A readable delete wakes it too, with the delete's index.
    const gone = await during(() => call(n.url, "GET", `/v1/vars?prefix=team/&index=${at2}&wait=20s`, team), () => call(n.url, "DELETE", "/v1/var/team/l2", n.management));
    expect(gone.ms).toBeLessThan(15_000);
    expect(gone.r.body.map((m: { Path: string }) => m.Path)).not.toContain("team/l2");
    expect(indexOf(gone.r)).toBeGreaterThan(at2);
  }, 60_000);
});

test("a template re-renders on a variable change within seconds (a blocking watch, not a 30 s re-read)", async () => {
  expect((await call(n.url, "PUT", "/v1/var/jobs/var-watch/cfg", n.management, { Items: { color: "blue" } })).status).toBe(200);
  const r = await call(n.url, "POST", "/v1/jobs", n.management, {
    id: "var-watch", groups: [{ name: "g", tasks: [{
      name: "t", command: "/bin/sh", args: ["-c", "while :; do sleep 1; done"], resources: { cpu: 50, memory: 64 },
      templates: [{ data: `color={{ "jobs/var-watch/cfg" | var: "color" }}`, destination: "local/c.conf", change_mode: "noop", splay: "0s" }],
    }] }],
  });
  expect(r.status).toBe(200);
  const alloc = await eventually(async () => ((await call(n.url, "GET", "/v1/job/var-watch/allocations", n.management)).body as any[]).find((a) => a.clientStatus === "running"), 60_000, 250);
  const file = join(n.proc.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "local", "c.conf");
  await eventually(() => existsSync(file) && readFileSync(file, "utf8") === "color=blue", 20_000, 100);
  await sleep(1_000); // the watch is now blocking on the variable's index
  const t0 = Date.now();
  expect((await call(n.url, "PUT", "/v1/var/jobs/var-watch/cfg", n.management, { Items: { color: "red" } })).status).toBe(200);
  await eventually(() => readFileSync(file, "utf8") === "color=red", 15_000, 100);
  expect(Date.now() - t0).toBeLessThan(15_000);
}, 120_000);
