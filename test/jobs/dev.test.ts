// Jobs on a dev node (leader and agent in one process), driven through the
// HTTP API and the CLI: input validation, job run/status/plan/stop, alloc
// status/logs, a health-gated rolling update, and a failed update rolled
// back by auto_revert.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startCorral, killAll, getJson, eventually, tempDir, ENTRY, ROOT, type CorralProcess } from "../helpers/proc.ts";
import { BUN, HTTP_TASK_ARGS, alive, allocs, reapTasks, taskPid } from "./cluster-helpers.ts";

let dev: CorralProcess;
const dir = tempDir("corral-jobs-dev-");

beforeAll(async () => {
  dev = await startCorral({
    role: "dev",
    config: `[plugins]\nenabled = ["probe", "discovery", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n[plugins.exec]\nkill_timeout = "1s"\n`,
  });
  await eventually(async () => (await getJson<any[]>(dev.url + "/v1/nodes")).body.length === 1, 10_000);
}, 30_000);

afterAll(async () => {
  for (const j of ["web", "roll"]) await getJson(`${dev.url}/v1/job/${j}?purge`, { method: "DELETE" }).catch(() => {});
  await Bun.sleep(1500);
  await killAll();
  reapTasks(dev.dataDir);
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, CORRAL_ADDR: dev.url } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code: code ?? -1, out, err }));
  });
}

function webToml(opts: { count: number; version: string; failing?: boolean }): string {
  const args = opts.failing ? ["-e", "console.error('boom'); process.exit(3)"] : HTTP_TASK_ARGS;
  return [
    `id = "web"`,
    `[[groups]]`, `name = "web"`, `count = ${opts.count}`,
    `[groups.update]`, `max_parallel = 1`, `min_healthy_time = "300ms"`, `healthy_deadline = "20s"`, `auto_revert = true`,
    `[groups.restart]`, `attempts = 0`, `mode = "fail"`,
    `[[groups.tasks]]`, `name = "srv"`, `command = ${JSON.stringify(BUN)}`, `args = ${JSON.stringify(args)}`,
    `env = { VERSION = "${opts.version}" }`, `resources = { cpu = 200, memory = 200 }`, `ports = { http = {} }`,
    `[groups.tasks.service]`, `name = "web"`, `port = "http"`,
    `[[groups.tasks.service.checks]]`, `type = "http"`, `path = "/"`, `interval = "300ms"`,
  ].join("\n") + "\n";
}

describe("jobs API", () => {
  test("invalid documents are 400 with every problem and its key path; unknown ids are 404", async () => {
    const bad = await getJson(dev.url + "/v1/jobs", { method: "POST", body: JSON.stringify({ id: "x", groups: [{ name: "g", tasks: [{ name: "t", command: "", bogus: 1 }] }] }), headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("INVALID_JOB");
    expect(bad.body.errors).toEqual([
      { path: "groups[0].tasks[0].command", message: expect.any(String) },
      { path: "groups[0].tasks[0].bogus", message: "unknown key" },
    ]);
    const toml = await getJson(dev.url + "/v1/jobs", { method: "POST", body: 'id = "x"\n[[groups', headers: { "content-type": "application/toml" } });
    expect(toml.body.error).toContain("TOML syntax error");
    expect((await getJson(dev.url + "/v1/job/nope")).body).toEqual({ error: expect.any(String), code: "JOB_NOT_FOUND" });
    expect((await getJson(dev.url + "/v1/allocation/nope")).status).toBe(404);
    expect((await getJson(dev.url + "/v1/job/nope", { method: "DELETE" })).status).toBe(404);
    const drain = await getJson(dev.url + "/v1/node/nope/drain", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(drain.body.code).toBe("NODE_NOT_FOUND");
    const doc = (await getJson(dev.url + "/v1/openapi.json")).body;
    for (const p of ["/v1/jobs", "/v1/job/{id}", "/v1/job/{id}/plan", "/v1/job/{id}/allocations", "/v1/allocations", "/v1/allocation/{id}", "/v1/evaluations", "/v1/node/{id}/drain", "/v1/alloc/{id}/logs"]) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});

describe("jobs through the CLI", () => {
  test("run waits for a healthy deployment; status, plan, alloc status and logs", async () => {
    const file = join(dir, "web.toml");
    writeFileSync(file, webToml({ count: 2, version: "1" }));
    const plan = await cli(["job", "plan", file]);
    expect(plan.code).toBe(0);
    expect(plan.out).toContain("web[1]");
    const run = await cli(["job", "run", file]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("Deployment successful");
    const list = await allocs(dev.url, "web");
    const tooBig = join(dir, "big.toml");
    writeFileSync(tooBig, webToml({ count: 40, version: "1" }));
    // Four reads (a plan changes nothing): side by side, each its own CLI cold start.
    const [status, st, logs, blocked] = await Promise.all([
      cli(["job", "status", "web"]),
      cli(["alloc", "status", list[0].id.slice(0, 8)]),
      cli(["alloc", "logs", list[0].id.slice(0, 8), "--stderr"]),
      cli(["job", "plan", tooBig]),
    ]);
    expect(status.out).toContain("(stable: 0)");
    expect(status.out.match(/running\s+healthy/g)).toHaveLength(2);
    expect(st.out).toContain('Task "srv": running');
    expect(logs.code).toBe(0);
    expect(blocked.code).toBe(1);
    expect(blocked.out).toContain('Dimension "cpu" exhausted');
  }, 60_000);

  test("an update rolls out one at a time; a failing one fails its deployment and auto_revert rolls back", async () => {
    const file = join(dir, "web.toml");
    writeFileSync(file, webToml({ count: 2, version: "2" }));
    const before = (await allocs(dev.url, "web")).filter((a) => a.desiredStatus === "run");
    const run = await cli(["job", "run", file]);
    expect(run.code).toBe(0);
    const v1 = (await allocs(dev.url, "web")).filter((a) => a.desiredStatus === "run");
    expect(v1.map((a) => a.jobVersion)).toEqual([1, 1]);
    for (const a of before) expect(alive(taskPid(a, "srv")!)).toBe(false);

    writeFileSync(file, webToml({ count: 2, version: "3", failing: true }));
    const bad = await cli(["job", "run", file]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("Deployment failed");
    // Only max_parallel (1) allocation was replaced before the failure stopped the rollout...
    // ...and auto_revert registers the last stable version (1) again as version 3.
    const job = await eventually(async () => {
      const j = (await getJson(dev.url + "/v1/job/web")).body;
      return j.version === 3 && j.deployments[0]?.status === "successful" && j;
    }, 30_000);
    expect(job.spec.groups[0].tasks[0].env.VERSION).toBe("2");
    const live = (await allocs(dev.url, "web")).filter((a) => a.desiredStatus === "run" && a.clientStatus === "running");
    expect(live).toHaveLength(2);
    expect((await allocs(dev.url, "web")).filter((a) => a.jobVersion === 2)).toHaveLength(1);
    const stop = await cli(["job", "stop", "web"]);
    expect(stop.code).toBe(0);
    await eventually(async () => live.every((a) => !alive(taskPid(a, "srv")!)), 10_000);
  }, 90_000);

  test("node drain returns once the node holds nothing; --disable makes it eligible again", async () => {
    const [node] = (await getJson<any[]>(dev.url + "/v1/nodes")).body;
    const drained = await cli(["node", "drain", node.name, "--deadline", "30s"]);
    expect(drained.code).toBe(0);
    expect(drained.out).toContain("is drained");
    const plan = await getJson(dev.url + "/v1/job/web/plan", { method: "POST", body: webToml({ count: 1, version: "9" }), headers: { "content-type": "application/toml" } });
    expect(plan.body.failedGroups[0].metrics.reasons).toMatchObject({ "node draining": 1 });
    expect((await cli(["node", "drain", node.name, "--disable"])).code).toBe(0);
    const again = await getJson(dev.url + "/v1/job/web/plan", { method: "POST", body: webToml({ count: 1, version: "9" }), headers: { "content-type": "application/toml" } });
    expect(again.body.blocked).toBe(false);
  }, 30_000);
});
