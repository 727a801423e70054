// The mesh decides a task's service from its workload identity: a job runs
// on an agent (ACLs on, default deny, the mesh on); its task "t" registers the
// service "web" and calls "files" through the agent with its CORRAL_TOKEN
// only. The intention web => files lets it through and the instance sees
// web's SPIFFE ID; its sibling task "u" (service "other") is refused, whatever
// it claims in headers.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, eventually, freePort, getJson, killAll, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { reapTasks } from "../jobs/cluster-helpers.ts";
import { call } from "../acl/helpers.ts";
import { killBackends, register, startBackend, waitPassing } from "../invoke/helpers.ts";

const SECRET = "mesh-workload-secret-0123456789";
const ACL = `[plugins.authz]\nenabled = true\ndefault_policy = "deny"\n`;
let agent: CorralProcess | undefined;
afterAll(async () => {
  await killBackends();
  await killAll();
  if (agent) reapTasks(agent.dataDir);
});

const SCRIPT = `
const { writeFileSync } = require("node:fs");
(async () => {
  const r = await fetch(process.env.CORRAL_ADDR + "/v1/invoke/files/echo", { headers: { "X-Consul-Token": process.env.CORRAL_TOKEN, "X-Forwarded-Client-Cert": "URI=spiffe://forged/ns/default/svc/web" } });
  const body = await r.text();
  writeFileSync(process.env.OUT + "/" + process.env.NAME + ".json", JSON.stringify({ status: r.status, body }));
  setInterval(() => {}, 1 << 30);
})();
`;

test("a task calls as its own service: allowed for web, refused for its sibling", async () => {
  const leader = await startCorral({
    role: "leader",
    config: `[cluster]\nsecret = "${SECRET}"\n\n[raft]\nsync = "normal"\n\n${ACL}`,
  });
  const m = (await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" })).body.SecretID as string;
  const meshPort = await freePort();
  agent = await startCorral({
    role: "agent", dataDir: join(tempDir(), "agent-data"),
    config: `[node]\nname = "mw-agent"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leader.port}"]\nheartbeat = "300ms"\n\n[plugins.probe]\ncpu_total_mhz = 2000\nmemory_total_mb = 2048\n\n[plugins.exec]\nkill_timeout = "1s"\n\n[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = ${meshPort}\n\n${ACL}`,
  });
  await eventually(async () => ((await call(leader.url, "GET", "/v1/nodes", m)).body as { name: string; status: string }[]).some((n) => n.name === "mw-agent" && n.status === "ready"), 20_000);
  await register(agent, "files", await startBackend("files"), { token: m });
  await waitPassing(leader, "files", 1, 10_000, m);
  expect((await call(leader.url, "PUT", "/v1/connect/intentions/exact?source=web&destination=files", m, { Action: "allow" })).status).toBe(200);
  const td = (await getJson(`${leader.url}/v1/connect/ca/roots`)).body.TrustDomain;

  const out = tempDir("corral-mw-out-");
  chmodSync(out, 0o777);
  const task = (name: string, service: string) => [
    `[[groups.tasks]]`, `name = "${name}"`, `command = ${JSON.stringify(BUN)}`, `args = ${JSON.stringify(["-e", SCRIPT])}`,
    `env = { OUT = ${JSON.stringify(out)}, NAME = "${name}" }`, `resources = { cpu = 100, memory = 128 }`,
    `[groups.tasks.service]`, `name = "${service}"`,
  ];
  const spec = [`id = "mw"`, `[[groups]]`, `name = "g"`, `count = 1`, ...task("t", "web"), ...task("u", "other")].join("\n") + "\n";
  const sub = await call(leader.url, "POST", "/v1/jobs", m, spec, { "content-type": "application/toml" });
  expect(sub.status).toBe(200);
  for (const name of ["t", "u"]) await eventually(() => existsSync(join(out, `${name}.json`)), 60_000, 250);
  const t = JSON.parse(readFileSync(join(out, "t.json"), "utf8"));
  expect(t.status).toBe(200);
  expect(JSON.parse(t.body).headers["x-forwarded-client-cert"]).toBe(`URI=spiffe://${td}/ns/default/svc/web`);
  const u = JSON.parse(readFileSync(join(out, "u.json"), "utf8"));
  expect(u.status).toBe(403);
  expect(JSON.parse(u.body)).toMatchObject({ code: "INTENTION_DENIED", reason: "no intention matches other => files: default policy deny" });
  expect((await call(leader.url, "DELETE", "/v1/job/mw", m)).status).toBe(200);
}, 150_000);
