// A service name may be built with `${...}` (docs/jobs.md "Interpolation"),
// but only from values known when the job is submitted: the name the
// service:write check sees is the name the node registers. The attack: a
// token with service:write on "web" only tries to register other names
// through interpolation (the job id, job meta, node meta it could set).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, killAll, sleep } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
let webOnly: string;

const job = (id: string, service: Record<string, unknown>, meta: Record<string, string> = {}) => ({
  id, meta,
  groups: [{
    name: "g",
    tasks: [{
      name: "t", command: "/bin/sh", args: ["-c", "trap 'exit 0' TERM; while :; do /bin/sleep 0.2; done"],
      resources: { cpu: 50, memory: 64 }, ports: { http: {} }, service: { port: "http", ...service },
    }],
  }],
});

beforeAll(async () => {
  n = await startAclNode();
  webOnly = (await tokenWith(n, "web-deployer", 'job_prefix "" { policy = "write" }\nservice "web" { policy = "write" }\nnode_prefix "" { policy = "write" }')).secret;
}, 60_000);

afterAll(async () => {
  for (const id of ["web", "web2"]) await call(n.url, "DELETE", `/v1/job/${id}`, n.management).catch(() => {});
  await sleep(300);
  await killAll();
});

describe("service names built with ${...}", () => {
  test("a name resolving outside the token's grant is refused with 403, naming the final service", async () => {
    const viaJobId = await call(n.url, "POST", "/v1/jobs", webOnly, job("db", { name: "${CORRAL_JOB_ID}" }));
    expect(viaJobId.status).toBe(403);
    const viaMeta = await call(n.url, "POST", "/v1/jobs", webOnly, job("x1", { name: "${NOMAD_META_svc}" }, { svc: "db" }));
    expect(viaMeta.status).toBe(403);
    const viaSuffix = await call(n.url, "POST", "/v1/jobs", webOnly, job("x2", { name: "web-${CORRAL_GROUP}" }));
    expect(viaSuffix.status).toBe(403);
    // Nothing of these reached the catalog.
    const services = await call(n.url, "GET", "/v1/catalog/services", n.management);
    expect(Object.keys(services.body)).not.toContain("db");
    expect(Object.keys(services.body)).not.toContain("web-g");
  });

  test("per-placement values (node meta the token can set, node names, ports) are a validation error with the key path", async () => {
    // The token may write node meta: were the name resolved on the node, it would choose the service.
    expect((await call(n.url, "POST", "/v1/client/metadata", webOnly, { Meta: { svc: "db" } })).status).toBe(200);
    for (const name of ["${meta.svc}", "web${node.unique.name}", "${CORRAL_ALLOC_ID}", "${attr.os.name}", "web-${CORRAL_PORT_http}", "${nope}"]) {
      const r = await call(n.url, "POST", "/v1/jobs", webOnly, job("web", { name }));
      expect(r.status).toBe(400);
      const text = JSON.stringify(r.body);
      expect(text).toContain("groups[0].tasks[0].service.name");
      expect(text).toMatch(name === "${nope}" ? /unknown variable/ : /known only once the task is placed/);
    }
    // A check name is resolved the same way.
    const check = await call(n.url, "POST", "/v1/jobs", webOnly, job("web", { name: "web", checks: [{ type: "tcp", name: "c-${meta.svc}" }] }));
    expect(check.status).toBe(400);
    expect(JSON.stringify(check.body)).toContain("groups[0].tasks[0].service.checks[0].name");
    // A resolved name that is no DNS label is refused as such.
    const bad = await call(n.url, "POST", "/v1/jobs", n.management, job("web", { name: "${CORRAL_JOB_ID}_x" }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("not a DNS label");
  });

  test("a name resolving inside the grant is accepted; the catalog shows the resolved name, the stored spec too", async () => {
    const r = await call(n.url, "POST", "/v1/jobs", webOnly, job("web", { name: "${NOMAD_JOB_NAME}", checks: [{ type: "tcp", name: "${CORRAL_TASK}-alive" }] }));
    expect(r.status).toBe(200);
    const stored = await call(n.url, "GET", "/v1/job/web", n.management);
    expect(JSON.stringify(stored.body)).toContain('"name":"web"');
    expect(JSON.stringify(stored.body)).not.toContain("NOMAD_JOB_NAME");
    const inst = await eventually(async () => {
      const c = await call(n.url, "GET", "/v1/catalog/service/web", n.management);
      return Array.isArray(c.body) && c.body.length > 0 && c.body;
    }, 60_000);
    expect(inst[0].ServiceName).toBe("web");
    const checks = await call(n.url, "GET", "/v1/health/checks/web", n.management);
    expect(checks.body.map((c: { Name: string }) => c.Name)).toContain("t-alive");
  }, 90_000);
});
