// What a data dir of a previous release holds for the upgrade tests: KV
// entries, a finished batch job, a service with a TTL check, an ACL policy
// and a token holding it. Written through the HTTP API of a running node of
// that release; read back by check() through the new one.
import { expect } from "bun:test";
import { eventually, getJson } from "../helpers/proc.ts";

export const SEED_ACL_CONFIG = `[plugins.authz]\nenabled = true\ndefault_policy = "deny"\n`;

export interface SeedTokens {
  management: string;
  reader: string;
}

const JOB = `id = "hello"
type = "batch"
[[groups]]
name = "once"
[[groups.tasks]]
name = "say"
command = "true"
resources = { cpu = 50, memory = 32 }
`;

function call(url: string, method: string, path: string, token: string | undefined, body?: unknown, contentType = "application/json") {
  return getJson(url + path, {
    method,
    headers: { ...(token ? { "X-Consul-Token": token } : {}), "content-type": contentType },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function seed(url: string): Promise<SeedTokens> {
  const boot = await call(url, "PUT", "/v1/acl/bootstrap", undefined);
  if (boot.status !== 200) throw new Error(`bootstrap: ${boot.status} ${JSON.stringify(boot.body)}`);
  const management = boot.body.SecretID as string;
  const ok = async (p: Promise<{ status: number; body: any }>, what: string) => {
    const r = await p;
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  await ok(call(url, "PUT", "/v1/kv/app/config", management, "v1-config", "application/octet-stream"), "kv put");
  await ok(call(url, "PUT", "/v1/kv/app/flagged?flags=42", management, "with-flags", "application/octet-stream"), "kv put flags");
  await ok(call(url, "PUT", "/v1/acl/policy", management, { Name: "app-read", Rules: 'key_prefix "app/" { policy = "read" }\n' }), "policy");
  const tok = await ok(call(url, "PUT", "/v1/acl/token", management, { Description: "reader", Policies: [{ Name: "app-read" }] }), "token");
  await ok(call(url, "PUT", "/v1/agent/service/register", management, { ID: "web-1", Name: "web", Port: 8080, Tags: ["v1"], Check: { TTL: "1h", Status: "passing" } }), "service");
  await ok(call(url, "POST", "/v1/jobs", management, JOB, "application/toml"), "job");
  // The batch task ran to completion under the old release.
  await eventually(async () => {
    const j = await call(url, "GET", "/v1/job/hello", management);
    return j.status === 200 && j.body.status === "dead";
  }, 60_000, 250);
  return { management, reader: tok.SecretID as string };
}

/** Everything seed() wrote, read through `url` (the new release). */
export async function check(url: string, t: SeedTokens): Promise<void> {
  const kv = await call(url, "GET", "/v1/kv/app/?recurse", t.reader);
  expect(kv.status).toBe(200);
  const byKey = Object.fromEntries((kv.body as any[]).map((e) => [e.Key, [Buffer.from(e.Value, "base64").toString(), e.Flags]]));
  expect(byKey).toEqual({ "app/config": ["v1-config", 0], "app/flagged": ["with-flags", 42] });
  // The reader token still works, and still only reads.
  expect((await call(url, "PUT", "/v1/kv/app/config", t.reader, "x", "application/octet-stream")).status).toBe(403);
  const svc = await call(url, "GET", "/v1/health/service/web", t.management);
  expect(svc.status).toBe(200);
  expect(svc.body.map((e: any) => [e.Service.ID, e.Service.Port, e.Service.Tags])).toEqual([["web-1", 8080, ["v1"]]]);
  const job = await call(url, "GET", "/v1/job/hello", t.management);
  expect(job.status).toBe(200);
  expect(job.body.status).toBe("dead");
  const allocs = await call(url, "GET", "/v1/job/hello/allocations", t.management);
  expect(allocs.body.map((a: any) => a.clientStatus)).toEqual(["complete"]);
}
