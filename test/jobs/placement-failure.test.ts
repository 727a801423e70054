// Placement failures explained (issue 15, point 8): a job that cannot be
// placed says why, per group, as Nomad's "Placement Failure" block does —
// in the API (FailedTGAllocs of GET /v1/job/{id} and /v1/job/{id}/evaluations)
// and in `corral job status ID`, which finds the job in whatever namespace
// holds it, without learning of jobs the token may not read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BUN, ENTRY, ROOT, eventually, killAll } from "../helpers/proc.ts";
import { call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

let n: AclNode;
const PROBE = `\n[plugins.probe]\ncpu_total_mhz = 4000\nmemory_total_mb = 4096\n`;

const job = (id: string, namespace: string, extra: string) =>
  `id = "${id}"\nnamespace = "${namespace}"\n${extra}\n[[groups]]\nname = "web"\ncount = 2\n  [[groups.tasks]]\n  name = "srv"\n  command = "/bin/true"\n  resources = { cpu = 100, memory = 100 }\n`;

async function register(toml: string): Promise<string> {
  const r = await call(n.url, "POST", "/v1/jobs", n.management, toml, { "content-type": "application/toml" });
  expect(r.status).toBe(200);
  return r.body.evalId;
}

const cli = (args: string[], token = n.management) =>
  spawnSync(BUN, [ENTRY, ...args, "--addr", n.url, "--token", token], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });

beforeAll(async () => {
  n = await startAclNode(PROBE);
  await eventually(async () => (await call(n.url, "GET", "/v1/nodes", n.management)).body.length === 1, 10_000);
  // Filtered by a constraint no node meets, in namespace "retail".
  const e1 = await register(job("shop", "retail", `[[constraints]]\nattribute = "\${attr.os.name}"\nvalue = "plan9"\n`));
  // Exhausted: the group's memory is more than the node has.
  const e2 = await register(job("big", "default", "").replace("memory = 100", "memory = 8000"));
  // The same id in two namespaces.
  await register(job("twin", "a", ""));
  await register(job("twin", "b", ""));
  for (const e of [e1, e2]) await eventually(async () => (await call(n.url, "GET", `/v1/evaluation/${e}`, n.management)).body.status === "blocked", 15_000);
}, 60_000);

afterAll(() => killAll());

describe("placement failures", () => {
  test("GET /v1/job/{id} and /v1/job/{id}/evaluations carry Nomad's FailedTGAllocs", async () => {
    const shop = (await call(n.url, "GET", "/v1/job/shop?namespace=retail", n.management)).body;
    expect(shop.placementFailure).toMatchObject({ evalStatus: "blocked", failedTGAllocs: { web: {
      NodesEvaluated: 1, NodesFiltered: 1, NodesExhausted: 0, ConstraintFiltered: { "${attr.os.name} = plan9": 1 }, DimensionExhausted: {}, Missing: 2, CoalescedFailures: 1,
    } } });
    const evals = (await call(n.url, "GET", "/v1/job/big/evaluations", n.management)).body;
    expect(evals[0].failedTGAllocs.web).toMatchObject({ NodesExhausted: 1, DimensionExhausted: { memory: 1 } });
    expect(evals[0].id).toBe((await call(n.url, "GET", "/v1/job/big", n.management)).body.placementFailure.evalId);
    expect((await call(n.url, "GET", "/v1/job/nope/evaluations", n.management)).body.code).toBe("JOB_NOT_FOUND");
  });

  test("once a later evaluation places everything, placementFailure is null again", async () => {
    const batch = (memory: number) => job("grow", "default", 'type = "batch"').replace("memory = 100", `memory = ${memory}`);
    const e = await register(batch(8000));
    await eventually(async () => (await call(n.url, "GET", `/v1/evaluation/${e}`, n.management)).body.status === "blocked", 15_000);
    expect((await call(n.url, "GET", "/v1/job/grow", n.management)).body.placementFailure.evalId).toBe(e);
    const e2 = await register(batch(50));
    await eventually(async () => (await call(n.url, "GET", `/v1/evaluation/${e2}`, n.management)).body.status === "complete", 15_000);
    await eventually(async () => (await call(n.url, "GET", "/v1/job/grow", n.management)).body.placementFailure === null, 10_000);
  });

  test("`corral job status ID` finds the job in its namespace and prints the Placement Failure block", () => {
    const r = cli(["job", "status", "shop"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Namespace retail");
    expect(r.stdout).toMatch(/Placement Failure \(evaluation [0-9a-f]{8}, blocked\)/);
    expect(r.stdout).toContain('Task Group "web" (failed to place 2 allocations):');
    expect(r.stdout).toContain("* 1 node evaluated: 1 filtered, 0 exhausted");
    expect(r.stdout).toContain("* Constraint `${attr.os.name} = plan9`: 1 node excluded by filter");
    const big = cli(["job", "status", "big"]);
    expect(big.stdout).toContain("* Resources exhausted on 1 node");
    expect(big.stdout).toContain('* Dimension "memory" exhausted on 1 node');
    const ok = cli(["job", "status", "twin", "--namespace", "a"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).not.toContain("Placement Failure");
  });

  test("an id in several namespaces is named with them; one the token may not read is not found, nor its namespace named", async () => {
    const amb = cli(["job", "status", "twin"]);
    expect(amb.status).toBe(2);
    expect(amb.stderr).toContain('job "twin" exists in 2 namespaces (a, b): say which with --namespace');
    const { secret } = await tokenWith(n, "only-big", 'job "big" { policy = "read" }\nnode_prefix "" { policy = "read" }');
    const hidden = cli(["job", "status", "shop"], secret);
    expect(hidden.status).toBe(1);
    expect(hidden.stderr + hidden.stdout).not.toContain("retail");
    expect(hidden.stderr).toContain("403");
    // POST /v1/validate/job asks job read on the document's id, like any job read.
    const validate = (id: string) => call(n.url, "POST", "/v1/validate/job", secret, job(id, "default", ""), { "content-type": "application/toml" });
    expect((await validate("big")).body).toEqual({ valid: true, jobId: "big", namespace: "default" });
    expect((await validate("shop")).status).toBe(403);
    const seen = cli(["job", "status", "big"], secret);
    expect(seen.status).toBe(0);
    expect(seen.stdout).toContain('Dimension "memory" exhausted on 1 node');
  });
});
