// Workload identity on an agent: the job runs on an agent (ACLs on, default
// deny, on the leader and the agent); its task calls the agent's API, which
// checks the token's signature and asks a leader whether the allocation is
// live (and its job), and passes the read on, where the leader checks again. The
// task reads its job's variable and not another's; after the job stops the
// token reads nothing through the agent either.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, eventually, freePort, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call } from "../acl/helpers.ts";

const SECRET = "variables-agent-secret-0123456789";
const ACL = `[plugins.authz]\nenabled = true\ndefault_policy = "deny"\n`;
let agent: CorralProcess | undefined;
afterAll(async () => {
  await killAll();
  if (agent) reapTasks(agent.dataDir);
});

const SCRIPT = `
const { writeFileSync } = require("node:fs");
const addr = process.env.CORRAL_ADDR, token = process.env.CORRAL_TOKEN;
const get = async (path) => (await fetch(addr + path, { headers: { "X-Consul-Token": token } })).status;
(async () => {
  const out = { addr, token, own: await get("/v1/var/jobs/wa/db"), other: await get("/v1/var/jobs/wb/db"), services: await get("/v1/agent/services") };
  writeFileSync(process.env.OUT + "/result.json", JSON.stringify(out));
  setInterval(() => {}, 1 << 30);
})();
`;

test("a task on an agent reads its job's variables through the agent, and not after the job stops", async () => {
  const leader = await startCorral({
    role: "leader",
    config: `[cluster]\nsecret = "${SECRET}"\n\n[raft]\nsync = "normal"\n\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n${ACL}`,
  });
  const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
  const management = boot.body.SecretID as string;
  const port = await freePort();
  agent = await startCorral({
    role: "agent", port, dataDir: join(tempDir(), "agent-data"),
    config: `[node]\nname = "wa-agent"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leader.port}"]\nheartbeat = "300ms"\n\n[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 2000\nmemory_total_mb = 2048\n\n[plugins.exec]\nkill_timeout = "1s"\n\n${ACL}`,
  });
  await eventually(async () => ((await call(leader.url, "GET", "/v1/nodes", management)).body as { name: string; status: string }[]).some((n) => n.name === "wa-agent" && n.status === "ready"), 20_000);
  for (const [path, pw] of [["jobs/wa/db", "a-secret"], ["jobs/wb/db", "b-secret"]]) {
    expect((await call(leader.url, "PUT", `/v1/var/${path}`, management, { Items: { pw } })).status).toBe(200);
  }
  const out = tempDir("corral-wa-out-");
  chmodSync(out, 0o777);
  const spec = [
    `id = "wa"`, `[[groups]]`, `name = "g"`, `count = 1`,
    `[[groups.tasks]]`, `name = "t"`, `command = ${JSON.stringify(BUN)}`, `args = ${JSON.stringify(["-e", SCRIPT])}`,
    `env = { OUT = ${JSON.stringify(out)} }`, `resources = { cpu = 100, memory = 128 }`,
  ].join("\n") + "\n";
  expect((await call(leader.url, "POST", "/v1/jobs", management, spec, { "content-type": "application/toml" })).status).toBe(200);
  const resultFile = join(out, "result.json");
  await eventually(() => existsSync(resultFile), 60_000, 250);
  const r = JSON.parse(readFileSync(resultFile, "utf8"));
  expect(r.addr).toBe(agent.url);
  expect(r.own).toBe(200);
  expect(r.other).toBe(403);
  expect(r.services).toBe(200); // answered by the agent itself (discovery)

  expect((await call(leader.url, "DELETE", "/v1/job/wa", management)).status).toBe(200);
  await eventually(async () => (await call(agent!.url, "GET", "/v1/var/jobs/wa/db", r.token)).status === 403, 30_000, 250);
  expect((await call(leader.url, "GET", "/v1/var/jobs/wa/db", r.token)).status).toBe(403);
  // The agent's own routes refuse it too: the agent asks a leader whether the allocation is still live.
  expect((await call(agent.url, "GET", "/v1/agent/services", r.token)).status).toBe(403);
}, 150_000);
