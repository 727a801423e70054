// gRPC health checks (Consul's GRPC / GRPCUseTLS) on a real dev process
// against a real gRPC server (@grpc/grpc-js) whose answer the test flips:
// registered through /v1/agent/check/register, in a service definition, and
// as a job's `type = "grpc"` check; a port that does not speak gRPC and a
// TLS server are critical with a clear Output.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { startCorral, killAll, eventually, getJson, tempDir, type CorralProcess } from "../helpers/proc.ts";
import { checkOf, checkTransitions } from "./targets.ts";
import { grpcHealthTarget, type GrpcHealthTarget } from "./grpc-target.ts";
import { BUN, allocs, reapTasks } from "../jobs/cluster-helpers.ts";
import { jobCheckProbe } from "../../plugins/exec/services.ts";

let p: CorralProcess;
let target: GrpcHealthTarget;
beforeAll(async () => {
  target = await grpcHealthTarget();
  p = await startCorral({
    role: "dev",
    config:
      `[plugins]\nenabled = ["probe", "discovery", "health", "exec"]\nwatch = false\n\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n\n` +
      `[plugins.exec]\nkill_timeout = "1s"\n\n[plugins.discovery]\nsync_interval = "1s"\n\n[plugins.health]\nmin_interval = "50ms"\n`,
  });
}, 30_000);
afterAll(async () => {
  await getJson(`${p.url}/v1/job/grpcjob?purge`, { method: "DELETE" }).catch(() => {});
  await Bun.sleep(1000);
  target.stop();
  await killAll();
  reapTasks(p.dataDir);
});

const put = (path: string, body?: unknown) => fetch(p.url + path, { method: "PUT", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
const check = (service: string, id: string) => checkOf(p.url, service, id);

describe("grpc checks", () => {
  test("/v1/agent/check/register with GRPC: the status follows SERVING / NOT_SERVING, with Consul's output", async () => {
    expect((await put("/v1/agent/service/register", { Name: "greeter", Port: target.port })).status).toBe(200);
    target.set("my.svc", "SERVING");
    const log = await checkTransitions(p.url);
    const r = await put("/v1/agent/check/register", { CheckID: "greeter-grpc", Name: "greeter grpc", ServiceID: "greeter", GRPC: `127.0.0.1:${target.port}/my.svc`, Interval: "100ms" });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await log.until("greeter-grpc", 1)).toEqual(["passing"]);
    const passing = await check("greeter", "greeter-grpc");
    expect(passing).toMatchObject({ Status: "passing", Output: `gRPC check 127.0.0.1:${target.port}/my.svc: success` });
    expect(target.calls("my.svc")).toBeGreaterThan(0);

    target.set("my.svc", "NOT_SERVING");
    expect(await log.until("greeter-grpc", 2)).toEqual(["passing", "critical"]);
    expect((await check("greeter", "greeter-grpc"))?.Output).toBe(`gRPC 127.0.0.1:${target.port}/my.svc serving status: NOT_SERVING`);
    target.set("my.svc", "SERVING");
    expect(await log.until("greeter-grpc", 3)).toEqual(["passing", "critical", "passing"]);

    // The definition reads back as Consul's.
    const checks = (await getJson<any[]>(`${p.url}/v1/health/checks/greeter`)).body;
    expect(checks.find((c) => c.CheckID === "greeter-grpc")?.Definition).toMatchObject({ GRPC: `127.0.0.1:${target.port}/my.svc`, Interval: "100ms" });
    await log.stream.cancel();
    await put("/v1/agent/service/deregister/greeter");
  }, 30_000);

  test("in a service definition: an unknown service (grpc NOT_FOUND) is critical with the gRPC status and message", async () => {
    const r = await put("/v1/agent/service/register", { Name: "lost", Port: target.port, Check: { CheckID: "lost", GRPC: `127.0.0.1:${target.port}/no.such.svc`, Interval: "100ms" } });
    expect(r.status).toBe(200);
    await eventually(async () => (await check("lost", "lost"))?.Output.includes("NotFound"), 10_000);
    expect(await check("lost", "lost")).toEqual(expect.objectContaining({ Status: "critical", Output: `gRPC check 127.0.0.1:${target.port}/no.such.svc: rpc error: code = NotFound desc = unknown service no.such.svc` }));
    await put("/v1/agent/service/deregister/lost");
  }, 20_000);

  test("a port that does not speak gRPC is critical, saying so", async () => {
    const http1 = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("plain http/1.1") });
    try {
      await put("/v1/agent/service/register", { Name: "plain", Port: http1.port, Check: { CheckID: "plain", GRPC: `127.0.0.1:${http1.port}`, Interval: "100ms", Status: "passing" } });
      await eventually(async () => (await check("plain", "plain"))?.Status === "critical", 10_000);
      expect((await check("plain", "plain"))?.Output).toMatch(new RegExp(`^gRPC check 127\\.0\\.0\\.1:${http1.port}: not a gRPC \\(HTTP/2\\) server`));
      await put("/v1/agent/service/deregister/plain");
    } finally {
      http1.stop(true);
    }
  }, 20_000);

  const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
  if (!HAVE_OPENSSL) console.warn("test/health/grpc.test.ts: TLS case skipped: `openssl` is not installed (apt-get install openssl)");
  test.skipIf(!HAVE_OPENSSL)("GRPCUseTLS: h2 over TLS; a self-signed certificate fails verification unless TLSSkipVerify", async () => {
    const dir = tempDir("corral-grpc-tls-");
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=localhost", "-days", "1", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir });
    expect(r.status, String(r.stderr)).toBe(0);
    const tls = await grpcHealthTarget({ credentials: grpc.ServerCredentials.createSsl(null, [{ private_key: readFileSync(join(dir, "k.pem")), cert_chain: readFileSync(join(dir, "c.pem")) }]), everyService: "SERVING" });
    try {
      await put("/v1/agent/service/register", {
        Name: "secure", Port: tls.port,
        Checks: [
          { CheckID: "secure-skip", GRPC: `127.0.0.1:${tls.port}/s`, GRPCUseTLS: true, TLSSkipVerify: true, Interval: "100ms" },
          { CheckID: "secure-verify", GRPC: `127.0.0.1:${tls.port}/s`, GRPCUseTLS: true, Interval: "100ms", Status: "passing" },
          { CheckID: "secure-plain", GRPC: `127.0.0.1:${tls.port}/s`, Interval: "100ms", Status: "passing" },
        ],
      });
      await eventually(async () => (await check("secure", "secure-skip"))?.Status === "passing", 10_000);
      await eventually(async () => (await check("secure", "secure-verify"))?.Status === "critical", 10_000);
      expect((await check("secure", "secure-verify"))?.Output).toMatch(/certificate/i);
      // h2c against a TLS port: not a gRPC answer.
      await eventually(async () => (await check("secure", "secure-plain"))?.Status === "critical", 10_000);
      await put("/v1/agent/service/deregister/secure");
    } finally {
      tls.stop();
    }
  }, 30_000);

  test("exec's stopgap runner probes a job's grpc check with the same probe", async () => {
    target.set("stopgap.v1", "SERVING");
    const probe = jobCheckProbe({ name: "c", type: "grpc", grpcService: "stopgap.v1", intervalMs: 1000, timeoutMs: 2000 }, "127.0.0.1", target.port);
    expect(await probe()).toEqual({ status: "passing", output: `gRPC check 127.0.0.1:${target.port}/stopgap.v1: success` });
    target.set("stopgap.v1", "NOT_SERVING");
    expect((await probe()).status).toBe("critical");
  });

  test('a job\'s check { type = "grpc", grpc_service } runs against the task', async () => {
    const job = {
      id: "grpcjob",
      groups: [{
        name: "g", count: 1,
        tasks: [{
          name: "srv", command: BUN, args: [join(import.meta.dir, "grpc-target.ts")], resources: { cpu: 200, memory: 200 }, ports: { grpc: {} },
          service: { name: "grpcjob", port: "grpc", checks: [{ type: "grpc", grpc_service: "jobs.v1", interval: "300ms", timeout: "2s" }] },
        }],
      }],
    };
    const bad = await getJson(p.url + "/v1/jobs", { method: "POST", body: JSON.stringify({ ...job, groups: [{ ...job.groups[0], tasks: [{ ...job.groups[0]!.tasks[0], service: { ...job.groups[0]!.tasks[0]!.service, checks: [{ type: "tcp", grpc_service: "x" }] } }] }] }), headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toContainEqual({ path: "groups[0].tasks[0].service.checks[0].grpc_service", message: "only grpc checks take it" });

    const run = await getJson(p.url + "/v1/jobs", { method: "POST", body: JSON.stringify(job), headers: { "content-type": "application/json" } });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const c = await eventually(async () => {
      const list = (await getJson<any[]>(`${p.url}/v1/health/checks/grpcjob`)).body;
      const got = Array.isArray(list) ? list.find((x) => x.Status === "passing") : undefined;
      return got;
    }, 30_000, 200);
    const port = (await allocs(p.url, "grpcjob"))[0]?.ports?.find((x: { label: string }) => x.label === "grpc")?.value;
    expect(c.Output).toMatch(/^gRPC check 127\.0\.0\.1:\d+\/jobs\.v1: success$/);
    if (port) expect(c.Output).toContain(`:${port}/jobs.v1`);
    expect(c.Definition.GRPC).toMatch(/\/jobs\.v1$/);
  }, 60_000);
});
