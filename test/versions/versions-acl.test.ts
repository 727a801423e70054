// Job versions under ACLs (default deny), with narrow tokens on a dev node:
// reading versions needs job read on the job; a revert needs job write, and
// — since it registers a spec the caller did not write — what registering
// that spec needs: service write on each service it declares.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, freePort, getJson, killAll, startCorral } from "../helpers/proc.ts";
import { ACL_CONFIG, call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;

/** Versions differ in their task's argument; count 0, so no task ever runs (nothing is left behind when the nodes are killed). */
function job(id: string, variant: number, service?: string) {
  return {
    id, type: "service",
    groups: [{ name: "g", count: 0, tasks: [{ name: "t", command: "/bin/sh", args: ["-c", `sleep ${1000 + variant}`], resources: { cpu: 10, memory: 16 }, ...(service ? { service: { name: service } } : {}) }] }],
  };
}

beforeAll(async () => {
  n = await startAclNode();
  for (const [j, svc] of [["web", undefined], ["svcjob", "api"]] as const) {
    for (const count of [0, 1]) {
      const r = await call(n.url, "POST", "/v1/jobs", n.management, job(j, count, svc));
      expect(r.status).toBe(200);
    }
  }
}, 60_000);

afterAll(killAll);

describe("versions and revert with narrow tokens", () => {
  test("versions: job read on the job is enough; another job's token, or none, gets 403", async () => {
    const reader = (await tokenWith(n, "web-read", 'job "web" { policy = "read" }')).secret;
    const ok = await call(n.url, "GET", "/v1/job/web/versions?diffs=true", reader);
    expect(ok.status).toBe(200);
    expect(ok.body.Versions.map((v: any) => v.Version)).toEqual([1, 0]);
    expect((await call(n.url, "GET", "/v1/job/svcjob/versions", reader)).status).toBe(403);
    expect((await call(n.url, "GET", "/v1/job/web/versions")).status).toBe(403);
  });

  test("revert: a read token gets 403 and nothing changes; a job:write token reverts", async () => {
    const reader = (await tokenWith(n, "web-read-2", 'job "web" { policy = "read" }')).secret;
    const denied = await call(n.url, "POST", "/v1/job/web/revert", reader, { JobVersion: 0 });
    expect(denied.status).toBe(403);
    expect((await call(n.url, "GET", "/v1/job/web", n.management)).body.version).toBe(1);
    const writer = (await tokenWith(n, "web-write", 'job "web" { policy = "write" }')).secret;
    const ok = await call(n.url, "POST", "/v1/job/web/revert", writer, { JobVersion: 0 });
    expect(ok.status).toBe(200);
    expect(ok.body.version).toBe(2);
  });

  test("revert to a version declaring a service needs service write on it too", async () => {
    const jobOnly = (await tokenWith(n, "svcjob-write", 'job "svcjob" { policy = "write" }')).secret;
    const denied = await call(n.url, "POST", "/v1/job/svcjob/revert", jobOnly, { JobVersion: 0 });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toContain('service "api"');
    expect((await call(n.url, "GET", "/v1/job/svcjob", n.management)).body.version).toBe(1);
    const both = (await tokenWith(n, "svcjob-and-api", 'job "svcjob" { policy = "write" }\nservice "api" { policy = "write" }')).secret;
    expect((await call(n.url, "POST", "/v1/job/svcjob/revert", both, { JobVersion: 0 })).status).toBe(200);
  });

  test("bad revert bodies are clear 400s", async () => {
    for (const body of [{}, { JobVersion: -1 }, { JobVersion: "0" }, { JobVersion: 0, Extra: 1 }]) {
      const r = await call(n.url, "POST", "/v1/job/web/revert", n.management, body);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_INPUT");
    }
    const missing = await call(n.url, "POST", "/v1/job/web/revert", n.management, { JobVersion: 99 });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toContain("has no version 99");
    expect((await call(n.url, "GET", "/v1/job/web/versions?diffs=maybe", n.management)).status).toBe(400);
    expect((await call(n.url, "POST", "/v1/jobs?JobModifyIndex=abc", n.management, job("web", 1))).status).toBe(400);
  });
});

test("through an agent: the agent checks the version's services before it forwards the revert", async () => {
  const leaderPort = await freePort();
  const secret = "versions-acl-secret-0123456789";
  const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}` });
  const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
  const m = { proc: leader, url: leader.url, management: boot.body.SecretID as string };
  const agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "agent-v"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}`,
  });
  await eventually(async () => (await getJson(leader.url + "/v1/nodes?token=" + m.management)).body.length === 1, 15_000);
  for (const count of [0, 1]) expect((await call(leader.url, "POST", "/v1/jobs", m.management, job("svcjob", count, "api"))).status).toBe(200);
  const jobOnly = (await tokenWith(m, "svcjob-write", 'job "svcjob" { policy = "write" }')).secret;
  const reader = (await tokenWith(m, "svcjob-read", 'job "svcjob" { policy = "read" }')).secret;
  expect((await call(agent.url, "GET", "/v1/job/svcjob/versions", reader)).status).toBe(200);
  expect((await call(agent.url, "POST", "/v1/job/svcjob/revert", reader, { JobVersion: 0 })).status).toBe(403);
  const denied = await call(agent.url, "POST", "/v1/job/svcjob/revert", jobOnly, { JobVersion: 0 });
  expect(denied.status).toBe(403);
  expect(denied.body.error).toContain('service "api"');
  expect((await call(leader.url, "GET", "/v1/job/svcjob", m.management)).body.version).toBe(1);
  const both = (await tokenWith(m, "svcjob-api", 'job "svcjob" { policy = "write" }\nservice "api" { policy = "write" }')).secret;
  const ok = await call(agent.url, "POST", "/v1/job/svcjob/revert", both, { JobVersion: 0 });
  expect(ok.status).toBe(200);
  expect(ok.body.version).toBe(2);
}, 60_000);
