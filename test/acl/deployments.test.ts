// Deployment routes under ACLs (default deny): reads need job read on the
// deployment's job, promote and fail need job write on it — checked with no
// token, a token for another job, a read-only token and a write token. The
// calls are the ones the dashboard's Promote button and the CLI make
// (X-Consul-Token). The canary never turns healthy (min_healthy_time 4m),
// so the write token's promotion reaches the applier and gets its 400.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "./helpers.ts";

let n: AclNode;
let depId = "";
const tokens: Record<string, string> = {};

function job(version: string, canary = 0) {
  return {
    id: "canaryacl",
    groups: [{
      name: "web", count: 1,
      update: { min_healthy_time: "4m", healthy_deadline: "5m", canary },
      tasks: [{ name: "t", command: "/bin/sleep", args: ["600"], env: { VERSION: version }, resources: { cpu: 50, memory: 32 } }],
    }],
  };
}

beforeAll(async () => {
  n = await startAclNode();
  for (const v of [job("0"), job("1", 1)]) {
    const r = await call(n.url, "POST", "/v1/jobs", n.management, v);
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
    // Version 1 is a canary only beside a running version 0: a version 1 registered before 0 was placed simply places itself.
    if (v.groups[0]!.update.canary === 0) {
      await eventually(async () => ((await call(n.url, "GET", "/v1/job/canaryacl/allocations", n.management)).body as any[]).some((a) => a.clientStatus === "running"), 45_000);
    }
  }
  const dep = await eventually(async () => {
    const list = (await call(n.url, "GET", "/v1/job/canaryacl/deployments", n.management)).body as any[];
    return list.find((d) => d.JobVersion === 1 && d.TaskGroups.web.PlacedCanaries.length === 1);
  }, 45_000);
  depId = dep.ID;
  tokens.reader = (await tokenWith(n, "dep-read", `job "canaryacl" { policy = "read" }`)).secret;
  tokens.writer = (await tokenWith(n, "dep-write", `job "canaryacl" { policy = "write" }`)).secret;
  tokens.other = (await tokenWith(n, "dep-other", `job "other" { policy = "write" }`)).secret;
}, 90_000);

afterAll(async () => {
  await call(n.url, "DELETE", "/v1/job/canaryacl?purge", n.management).catch(() => {});
  await Bun.sleep(1000);
  await killAll();
});

describe("deployment routes under ACLs", () => {
  test("reads: job read on the deployment's job", async () => {
    for (const [who, token] of [["no token", undefined], ["another job's token", tokens.other]] as const) {
      expect([who, (await call(n.url, "GET", `/v1/deployment/${depId}`, token)).status]).toEqual([who, 403]);
      expect([who, (await call(n.url, "GET", "/v1/job/canaryacl/deployments", token)).status]).toEqual([who, 403]);
      const list = await call(n.url, "GET", "/v1/deployments", token);
      expect([who, ((list.status === 200 ? list.body : []) as any[]).some((d) => d.JobID === "canaryacl")]).toEqual([who, false]);
    }
    const one = await call(n.url, "GET", `/v1/deployment/${depId.slice(0, 8)}`, tokens.reader);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      ID: depId, JobID: "canaryacl", Status: "running", StatusDescription: "Deployment is running but requires manual promotion",
      TaskGroups: { web: { DesiredCanaries: 1, Promoted: false } },
    });
    expect((await call(n.url, "GET", "/v1/job/canaryacl/deployments", tokens.reader)).status).toBe(200);
    expect(((await call(n.url, "GET", "/v1/deployments", tokens.reader)).body as any[]).some((d) => d.ID === depId)).toBe(true);
    // The list's index is that of what the token sees: another job's token gets none of this job's.
    const mine = await call(n.url, "GET", "/v1/deployments", tokens.reader);
    const theirs = await call(n.url, "GET", "/v1/deployments", tokens.other);
    expect(Number(mine.headers.get("x-corral-index"))).toBe(Math.max(...(mine.body as any[]).map((d) => d.ModifyIndex)));
    expect(theirs.headers.get("x-corral-index")).toBe("1");
  });

  test("promote and fail: job write on the deployment's job; an unhealthy canary is a 400, not a promotion", async () => {
    for (const [who, token] of [["no token", undefined], ["another job's token", tokens.other], ["read-only token", tokens.reader]] as const) {
      expect([who, (await call(n.url, "POST", `/v1/deployment/promote/${depId}`, token, { All: true })).status]).toEqual([who, 403]);
      expect([who, (await call(n.url, "POST", `/v1/deployment/fail/${depId}`, token, {})).status]).toEqual([who, 403]);
    }
    const refused = await call(n.url, "POST", `/v1/deployment/promote/${depId}`, tokens.writer, { All: true });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: "CANARIES_NOT_HEALTHY" });
    expect(refused.body.error).toContain(`task group "web" has 0/1 healthy canaries`);
    // Bad bodies are 400s with the key path; an unknown group names it.
    const bad = await call(n.url, "POST", `/v1/deployment/promote/${depId}`, tokens.writer, { Groups: "web" });
    expect([bad.status, bad.body.code]).toEqual([400, "INVALID_INPUT"]);
    expect(bad.body.error).toContain("Groups");
    const unknown = await call(n.url, "POST", `/v1/deployment/promote/${depId}`, tokens.writer, { Groups: ["nope"] });
    expect([unknown.status, unknown.body.error]).toEqual([400, `deployment has no task group "nope"`]);
    const missing = await call(n.url, "POST", "/v1/deployment/promote/00000000-0000-0000-0000-000000000000", n.management, {});
    expect([missing.status, missing.body.code]).toEqual([404, "DEPLOYMENT_NOT_FOUND"]);
    // Still running, still unpromoted after all of that.
    expect((await call(n.url, "GET", `/v1/deployment/${depId}`, tokens.reader)).body).toMatchObject({ Status: "running", TaskGroups: { web: { Promoted: false } } });

    const failed = await call(n.url, "POST", `/v1/deployment/fail/${depId}`, tokens.writer, {});
    expect(failed.status).toBe(200);
    expect(typeof failed.body.EvalID).toBe("string");
    expect((await call(n.url, "GET", `/v1/deployment/${depId}`, tokens.reader)).body.Status).toBe("failed");
  });
});
