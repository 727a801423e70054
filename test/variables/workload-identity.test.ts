// Workload identity through real processes: a dev node with ACLs on (default
// deny) and the exec plugin runs a job whose task, a small bun script, uses
// the CORRAL_TOKEN it was given to read its own job's variable, and is
// refused another job's, writes, and the KV store; it may discover services.
// The token file is secrets/corral_token, mode 0400, owned by the task's
// user, and holds the same token. Once the job is stopped the token reads
// nothing.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, ENTRY, eventually, killAll, tempDir } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call, startAclNode, type AclNode } from "../acl/helpers.ts";

let n: AclNode | undefined;
afterAll(async () => {
  if (n) await call(n.url, "DELETE", "/v1/job/wi?purge", n.management).catch(() => {});
  await Bun.sleep(500);
  await killAll();
  if (n) reapTasks(n.proc.dataDir);
});

// The task: read its own job's variable, try what it must not, report, and stay up (a service job).
const SCRIPT = `
const { readFileSync, writeFileSync, statSync } = require("node:fs");
const addr = process.env.CORRAL_ADDR, token = process.env.CORRAL_TOKEN;
const cli = (args) => { const r = require("node:child_process").spawnSync(process.env.BUN_BIN, [process.env.ENTRY, ...args], { encoding: "utf8" }); return { code: r.status, out: r.stdout, err: r.stderr }; };
const get = async (path, init = {}) => { const r = await fetch(addr + path, { ...init, headers: { "X-Consul-Token": token, "content-type": "application/json" } }); return { status: r.status, body: await r.text() }; };
(async () => {
  const out = {
    token, file: readFileSync("secrets/corral_token", "utf8"),
    own: await get("/v1/var/jobs/wi/db"), ownTask: await get("/v1/var/jobs/wi/g/t"),
    other: await get("/v1/var/jobs/wi2/db"), prefixTwin: await get("/v1/var/jobs/wiz"),
    write: await get("/v1/var/jobs/wi/db", { method: "PUT", body: JSON.stringify({ Items: { pw: "x" } }) }),
    kv: await get("/v1/kv/anything"), services: await get("/v1/catalog/services"),
    list: await get("/v1/vars"),
    // The corral CLI itself, as a task would use it: CORRAL_ADDR and CORRAL_TOKEN come from the task's environment.
    cli: cli(["var", "get", "jobs/wi/db", "--item", "pw"]), cliOther: cli(["var", "get", "jobs/wi2/db"]),
  };
  writeFileSync(process.env.OUT + "/result.json", JSON.stringify(out));
  setInterval(() => {}, 1 << 30);
})();
`;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test("a task reads its job's variables with its identity, nothing else, and not after the job stops", async () => {
  n = await startAclNode(`\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`);
  const node = n;
  for (const [path, pw] of [["jobs/wi/db", "own-secret"], ["jobs/wi/g/t", "task-secret"], ["jobs/wi2/db", "other-secret"], ["jobs/wiz", "twin-secret"]]) {
    expect((await call(node.url, "PUT", `/v1/var/${path}`, node.management, { Items: { pw } })).status).toBe(200);
  }
  const out = tempDir("corral-wi-out-");
  chmodSync(out, 0o777); // the task runs as an unprivileged user
  const spec = [
    `id = "wi"`, `[[groups]]`, `name = "g"`, `count = 1`,
    `[[groups.tasks]]`, `name = "t"`, `command = ${JSON.stringify(BUN)}`, `args = ${JSON.stringify(["-e", SCRIPT])}`,
    `env = { OUT = ${JSON.stringify(out)}, BUN_BIN = ${JSON.stringify(BUN)}, ENTRY = ${JSON.stringify(ENTRY)} }`, `resources = { cpu = 100, memory = 128 }`,
  ].join("\n") + "\n";
  const run = await call(node.url, "POST", "/v1/jobs", node.management, spec, { "content-type": "application/toml" });
  expect(run.status).toBe(200);

  const resultFile = join(out, "result.json");
  await eventually(() => existsSync(resultFile), 60_000, 250);
  const r = JSON.parse(readFileSync(resultFile, "utf8"));
  expect(r.token).toMatch(/^cwi1\./);
  expect(r.file).toBe(r.token);
  expect(r.own.status).toBe(200);
  expect(JSON.parse(r.own.body).Items).toEqual({ pw: "own-secret" });
  expect(r.ownTask.status).toBe(200);
  expect(JSON.parse(r.ownTask.body).Items).toEqual({ pw: "task-secret" });
  expect(r.cli).toEqual({ code: 0, out: "own-secret\n", err: "" });
  expect(r.cliOther.code).toBe(1);
  expect(r.cliOther.err).toContain("Permission denied");
  expect(r.other.status).toBe(403);
  expect(r.prefixTwin.status).toBe(403);
  expect(r.write.status).toBe(403);
  expect(r.kv.status).toBe(403);
  expect(r.services.status).toBe(200);
  expect(JSON.parse(r.list.body).map((m: { Path: string }) => m.Path)).toEqual(["jobs/wi/db", "jobs/wi/g/t"]);

  // The file: 0400, owned by the task's user (the agent runs as root here: "nobody").
  const tokenFile = filesUnder(node.proc.dataDir).find((f) => f.endsWith("/tasks/t/secrets/corral_token"));
  expect(tokenFile).toBeDefined();
  const st = statSync(tokenFile!);
  expect(st.mode & 0o777).toBe(0o400);
  if (process.getuid?.() === 0) {
    const nobody = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("nobody:"))!.split(":");
    expect(st.uid).toBe(Number(nobody[2]));
  }

  // Another namespace's variable at the same path is not the task's: its identity reads its job's namespace only.
  expect((await call(node.url, "PUT", "/v1/var/jobs/wi/db?namespace=other", node.management, { Items: { pw: "other-ns" } })).status).toBe(200);
  expect((await call(node.url, "GET", "/v1/var/jobs/wi/db?namespace=other", r.token)).status).toBe(403);
  expect((await call(node.url, "GET", "/v1/vars?namespace=other", r.token)).body).toEqual([]);
  expect((await call(node.url, "GET", "/v1/vars?namespace=*", r.token)).body.map((m: { Namespace: string }) => m.Namespace)).toEqual(["default", "default"]);
  expect((await call(node.url, "GET", "/v1/var/jobs/wi/db", r.token)).status).toBe(200);

  // A forged token (another job's claim signed with the wrong key) is nobody.
  const forged = r.token.replace(/\.[^.]+$/, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  expect((await call(node.url, "GET", "/v1/var/jobs/wi/db", forged)).status).toBe(403);

  // Stop the job: the token stops working.
  expect((await call(node.url, "DELETE", "/v1/job/wi", node.management)).status).toBe(200);
  await eventually(async () => (await call(node.url, "GET", "/v1/var/jobs/wi/db", r.token)).status === 403, 30_000, 250);
  const after = await call(node.url, "GET", "/v1/vars", r.token);
  expect(after.status).toBe(403);
  expect(after.body.code).toBe("ACL_NOT_FOUND"); // a revoked identity is no token at all
}, 150_000);
