// Task templates through real processes: one dev node with ACLs on (default
// deny), the exec plugin and discovery. Templates render the passing
// instances of a service (registered through the agent API with TTL checks)
// into a file the task reads; when one instance turns critical the file is
// rendered again and the task restarted (new pid) or signalled (it traps
// SIGHUP and re-reads). A KV-driven env template holds the task pending
// while its key is missing, with an event naming it, and lets it start once
// the key exists. A variable renders through the task's own identity; a
// template naming another job's variable keeps its task from starting.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { ROOT } from "../helpers/proc.ts";
import { join } from "node:path";
import { eventually, killAll, sleep, tempDir } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call, startAclNode, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let out: string;
const JOBS = ["tpl-restart", "tpl-signal", "tpl-env", "tpl-var", "tpl-thief", "templated"];

beforeAll(async () => {
  n = await startAclNode(`\n[node]\nmeta = { rack = "r7" }\n\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`);
  out = tempDir("corral-tpl-out-");
  chmodSync(out, 0o777); // tasks run as an unprivileged user
  for (const [id, port] of [["db-1", 7001], ["db-2", 7002]] as const) {
    const r = await call(n.url, "PUT", "/v1/agent/service/register", n.management, {
      ID: id, Name: "db", Address: "127.0.0.1", Port: port, Check: { CheckID: `check-${id}`, TTL: "10m", Status: "passing" },
    });
    expect(r.status).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  for (const j of JOBS) await call(n.url, "DELETE", `/v1/job/${j}?purge`, n.management).catch(() => {});
  await sleep(500);
  await killAll();
  if (n) reapTasks(n.proc.dataDir);
});

const DB_TEMPLATE = `{% for s in service["db"] %}{{ s.Address }}:{{ s.Port }}\n{% endfor %}`;

async function run(job: Record<string, unknown>) {
  const r = await call(n.url, "POST", "/v1/jobs", n.management, job);
  if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
}

function job(id: string, script: string, templates: Record<string, unknown>[]) {
  return {
    id, groups: [{
      name: "g", count: 1,
      tasks: [{ name: "t", command: "/bin/sh", args: ["-c", script], env: { OUT: out }, resources: { cpu: 50, memory: 64 }, templates }],
    }],
  };
}

async function taskState(jobId: string): Promise<any> {
  const list = (await call(n.url, "GET", `/v1/job/${jobId}/allocations`, n.management)).body as any[];
  return list.find((a) => a.desiredStatus === "run")?.taskStates?.t;
}

const read = (f: string) => (existsSync(join(out, f)) ? readFileSync(join(out, f), "utf8") : "");

test("a service's passing instances render into a file; one turning critical re-renders it and restarts the task", async () => {
  // Each start records its pid and what it read.
  await run(job("tpl-restart", `cp local/db.conf "$OUT/restart-$$.conf"; echo $$ >> "$OUT/restart.pids"; while :; do sleep 1; done`, [
    { data: DB_TEMPLATE, destination: "local/db.conf", change_mode: "restart", splay: "0s", perms: "0640" },
  ]));
  const first = await eventually(() => read("restart.pids").trim().split("\n").filter(Boolean)[0], 60_000, 250);
  expect(read(`restart-${first}.conf`)).toBe("127.0.0.1:7001\n127.0.0.1:7002\n");
  const alloc = ((await call(n.url, "GET", "/v1/job/tpl-restart/allocations", n.management)).body as any[])[0];
  const file = join(n.proc.dataDir, "exec", "allocs", alloc.id, "tasks", "t", "local", "db.conf");
  // Written with perms, owned by the task's user (who also wrote restart.pids).
  expect(statSync(file).mode & 0o777).toBe(0o640);
  expect(statSync(file).uid).toBe(statSync(join(out, "restart.pids")).uid);

  expect((await call(n.url, "PUT", "/v1/agent/check/fail/check-db-2", n.management)).status).toBe(200);
  const second = await eventually(() => read("restart.pids").trim().split("\n").filter(Boolean)[1], 60_000, 250);
  expect(second).not.toBe(first);
  expect(read(`restart-${second}.conf`)).toBe("127.0.0.1:7001\n");
  const events = ((await taskState("tpl-restart"))?.events ?? []).map((e: any) => e.message).join("\n");
  expect(events).toContain("template re-rendered: local/db.conf");
  expect((await call(n.url, "PUT", "/v1/agent/check/pass/check-db-2", n.management)).status).toBe(200);
}, 120_000);

test("signal mode: the task traps SIGHUP and re-reads the re-rendered file, same pid", async () => {
  await eventually(async () => ((await call(n.url, "GET", "/v1/health/service/db?passing", n.management)).body as any[]).length === 2, 20_000);
  const script = `trap 'cp local/db.conf "$OUT/signal.conf"; echo hup >> "$OUT/signal.hups"' HUP; cp local/db.conf "$OUT/signal.conf"; echo $$ > "$OUT/signal.pid"; while :; do sleep 0.2; done`;
  await run(job("tpl-signal", script, [{ data: DB_TEMPLATE, destination: "local/db.conf", change_mode: "signal", change_signal: "SIGHUP", splay: "0s" }]));
  const pid = await eventually(() => read("signal.pid").trim(), 60_000, 250);
  expect(read("signal.conf")).toBe("127.0.0.1:7001\n127.0.0.1:7002\n");
  expect((await call(n.url, "PUT", "/v1/agent/check/fail/check-db-1", n.management)).status).toBe(200);
  await eventually(() => read("signal.hups").includes("hup"), 60_000, 250);
  expect(read("signal.conf")).toBe("127.0.0.1:7002\n");
  expect(read("signal.pid").trim()).toBe(pid); // not restarted
  expect((await call(n.url, "PUT", "/v1/agent/check/pass/check-db-1", n.management)).status).toBe(200);
}, 120_000);

test("an env template from KV: the task waits for a missing key (an event names it), then starts with the values", async () => {
  await run(job("tpl-env", `echo "$GREETING/$MODE" > "$OUT/env.txt"; while :; do sleep 1; done`, [
    { data: `GREETING={{ "cfg/greeting" | key }}\nMODE={{ "cfg/mode" | key_or_default: "dev" }}\n`, destination: "app.env", env: true },
  ]));
  const waiting = await eventually(async () => {
    const st = await taskState("tpl-env");
    return st?.events?.find((e: any) => e.type === "Template" && e.message.includes("Missing: kv.block(cfg/greeting)"));
  }, 60_000, 250);
  expect(waiting.message).toContain("the task waits");
  expect((await taskState("tpl-env")).state).toBe("pending");
  expect(read("env.txt")).toBe("");
  expect((await call(n.url, "PUT", "/v1/kv/cfg/greeting", n.management, "hello", { "content-type": "text/plain" })).status).toBe(200);
  await eventually(() => read("env.txt") === "hello/dev\n", 60_000, 250);
}, 120_000);

test("a variable renders through the task's identity; another job's variable keeps the task from starting", async () => {
  for (const [path, pw] of [["jobs/tpl-var/db", "own-secret"], ["jobs/tpl-other/db", "other-secret"]]) {
    expect((await call(n.url, "PUT", `/v1/var/${path}`, n.management, { Items: { pw } })).status).toBe(200);
  }
  await run(job("tpl-var", `cp secrets/app.conf "$OUT/var.conf"; while :; do sleep 1; done`, [
    { data: `pw={{ "jobs/tpl-var/db" | var: "pw" }}\nrack={{ node.meta.rack }}\nos={{ node.attr["kernel.name"] }}\n`, destination: "secrets/app.conf", perms: "0600" },
  ]));
  await eventually(() => read("var.conf") !== "", 60_000, 250);
  expect(read("var.conf")).toBe(`pw=own-secret\nrack=r7\nos=${process.platform}\n`);

  await run(job("tpl-thief", `cp local/stolen "$OUT/stolen"; while :; do sleep 1; done`, [
    { data: `{{ "jobs/tpl-other/db" | var: "pw" }}`, destination: "local/stolen" },
  ]));
  const refused = await eventually(async () => {
    const st = await taskState("tpl-thief");
    return st?.events?.find((e: any) => e.type === "Template" && e.message.includes("permission denied"));
  }, 60_000, 250);
  expect(refused.message).toContain("var(jobs/tpl-other/db)");
  await sleep(1000);
  expect((await taskState("tpl-thief")).state).toBe("pending");
  expect(read("stolen")).toBe("");
}, 120_000);

test("docs/jobs.md's templates example runs as written", async () => {
  const doc = readFileSync(join(ROOT, "docs/jobs.md"), "utf8");
  const toml = /<!-- example:templates -->\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(toml).toBeDefined();
  await eventually(async () => ((await call(n.url, "GET", "/v1/health/service/db?passing", n.management)).body as any[]).length === 2, 20_000);
  expect((await call(n.url, "PUT", "/v1/kv/cfg/greeting", n.management, "hello", { "content-type": "text/plain" })).status).toBe(200);
  expect((await call(n.url, "PUT", "/v1/var/jobs/templated/db", n.management, { Items: { password: "pw1" } })).status).toBe(200);
  const r = await call(n.url, "POST", "/v1/jobs", n.management, toml, { "content-type": "application/toml" });
  expect(r.status).toBe(200);
  const alloc = await eventually(async () => {
    const list = (await call(n.url, "GET", "/v1/job/templated/allocations", n.management)).body as any[];
    return list.find((a) => a.clientStatus === "running");
  }, 60_000, 250);
  const dir = join(n.proc.dataDir, "exec", "allocs", alloc.id);
  expect(readFileSync(join(dir, "tasks", "app", "local", "db.conf"), "utf8")).toBe("127.0.0.1:7001\n127.0.0.1:7002\n");
  const secret = join(dir, "tasks", "app", "secrets", "db.env");
  expect(readFileSync(secret, "utf8")).toBe("DB_PASSWORD=pw1");
  expect(statSync(secret).mode & 0o777).toBe(0o600);
  await eventually(() => existsSync(join(dir, "logs", "app.stdout.log")) && readFileSync(join(dir, "logs", "app.stdout.log"), "utf8").includes("greeting: hello"), 20_000, 250);
}, 120_000);
