// The populated state the read-side security tests attack: a dev node with
// ACLs on (default deny), KV keys under a public and a secret prefix,
// services whose Meta and check Output are secret, a job whose task env is
// secret, and tokens that may read only part of it.
import { BUN, eventually, freePort, getJson, startCorral } from "../helpers/proc.ts";
import { ACL_CONFIG, call, startAclNode, tokenWith, type AclNode } from "../acl/helpers.ts";

/** Strings that must never reach a caller who may not read what holds them. */
export const SECRETS = {
  kvValue: "hunter2-kv-value",
  kvKey: "secret/db-pass",
  serviceMeta: "meta-secret-4711",
  checkOutput: "check-output-secret-0815",
  taskEnv: "env-secret-9000",
  jobId: "payroll",
} as const;

export interface ReadsWorld {
  n: AclNode;
  nodeName: string;
  nodeId: string;
  /** key_prefix "app/" read only. */
  app: string;
  /** service "web" read only. */
  web: string;
  /** node read on every node, service "web" read; no job, no other service. */
  nodeReader: string;
  /** key "secret" read (exact): the key itself, nothing below it. */
  exactKey: string;
  /** event read + key_prefix "app/" read + service "web" read + node read: no secret key, service or job. */
  events: string;
}

export async function populate(): Promise<ReadsWorld> {
  const n = await startAclNode();
  const m = n.management;
  const put = async (key: string, value: string) => {
    const r = await call(n.url, "PUT", `/v1/kv/${key}`, m, value);
    if (r.status !== 200) throw new Error(`kv put ${key}: ${r.status}`);
  };
  await put("app/config", "public-value");
  await put(SECRETS.kvKey, SECRETS.kvValue);
  await put("secret/api-key", SECRETS.kvValue);

  const reg = async (body: unknown) => {
    const r = await call(n.url, "PUT", "/v1/agent/service/register", m, body);
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await reg({ ID: "web-1", Name: "web", Port: 8080, Meta: { owner: "team-a" } });
  await reg({ ID: "vault-1", Name: "vault", Port: 8200, Meta: { token: SECRETS.serviceMeta }, Check: { CheckID: "vault-ttl", Name: "vault ttl", TTL: "10m", Status: "passing" } });
  const fail = await call(n.url, "PUT", `/v1/agent/check/fail/vault-ttl?note=${SECRETS.checkOutput}`, m);
  if (fail.status !== 200) throw new Error(`check fail: ${fail.status} ${JSON.stringify(fail.body)}`);
  await eventually(async () => JSON.stringify((await call(n.url, "GET", "/v1/health/state/critical", m)).body).includes(SECRETS.checkOutput), 10_000);

  const self = await call(n.url, "GET", "/v1/agent/self", m);
  const nodeName: string = self.body.Config?.NodeName ?? self.body.Member?.Name;
  const node = await call(n.url, "GET", `/v1/node/${encodeURIComponent(nodeName)}`, m);
  const nodeId: string = node.body.id;

  const job = {
    id: SECRETS.jobId,
    groups: [{
      name: "g", count: 1,
      tasks: [{
        name: "t", command: BUN, args: ["-e", "setInterval(() => {}, 1000)"],
        env: { PAYROLL_TOKEN: SECRETS.taskEnv }, resources: { cpu: 100, memory: 64 },
      }],
    }],
  };
  const run = await call(n.url, "POST", "/v1/jobs", m, job, { "content-type": "application/json" });
  if (run.status >= 300) throw new Error(`job: ${run.status} ${JSON.stringify(run.body)}`);
  // The data is there for the management token: the tests below would prove nothing otherwise.
  await eventually(async () => {
    const mine = await call(n.url, "GET", `/v1/node/${nodeId}/allocations`, m);
    return JSON.stringify(mine.body).includes(SECRETS.taskEnv);
  }, 30_000);

  const app = (await tokenWith(n, "app-reader", 'key_prefix "app/" { policy = "read" }')).secret;
  const web = (await tokenWith(n, "web-reader", 'service "web" { policy = "read" }')).secret;
  const exactKey = (await tokenWith(n, "exact-key", 'key "secret" { policy = "read" }')).secret;
  const nodeReader = (await tokenWith(n, "node-reader", 'node_prefix "" { policy = "read" }\nservice "web" { policy = "read" }')).secret;
  const events = (await tokenWith(n, "event-reader", [
    'event_prefix "" { policy = "read" }', 'key_prefix "app/" { policy = "read" }',
    'service "web" { policy = "read" }', 'node_prefix "" { policy = "read" }',
  ].join("\n"))).secret;
  return { n, nodeName, nodeId, app, web, exactKey, nodeReader, events };
}

export interface Seen {
  status: number;
  body: string;
  headers: Record<string, string | null>;
}

/** What a caller can observe of an answer: status, body and the headers that could carry metadata. */
export async function observe(url: string, path: string, token?: string, method = "GET"): Promise<Seen> {
  const r = await fetch(url + path, { method, headers: token ? { "X-Consul-Token": token } : {} });
  const body = await r.text();
  // X-Corral-Index (the applied index, on every answer) is left out: it moves with any write, audit included, and says nothing about what.
  const pick = ["x-consul-results-filtered-by-acls", "x-consul-index", "content-type", "content-length"];
  return { status: r.status, body, headers: Object.fromEntries(pick.map((h) => [h, r.headers.get(h)])) };
}

/** The query variants every read must answer like its plain form. */
export const VARIANTS = ["", "&stale", "&consistent", "&index=1&wait=50ms"];

/** Appends a variant to a path that may or may not have a query yet. */
export function withVariant(path: string, variant: string): string {
  if (!variant) return path;
  return path.includes("?") ? path + variant : path + "?" + variant.slice(1);
}

/** A leader (ACLs on, bootstrapped) and an agent joined to it, with KV keys under app/ and secret/. */
export async function leaderWithAgent(): Promise<{ leader: AclNode; agentUrl: string }> {
  const leaderPort = await freePort();
  const secret = "reads-agent-test-secret-0123";
  const proc = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}` });
  const boot = await getJson(proc.url + "/v1/acl/bootstrap", { method: "PUT" });
  const leader: AclNode = { proc, url: proc.url, management: boot.body.SecretID as string };
  const agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "agent-reads"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}token_ttl = "60s"\n`,
  });
  await eventually(async () => (await getJson(leader.url + "/v1/nodes?token=" + leader.management)).body.length === 1, 15_000);
  for (const [k, v] of [["app/config", "public-value"], [SECRETS.kvKey, SECRETS.kvValue]] as const) {
    await call(leader.url, "PUT", `/v1/kv/${k}`, leader.management, v);
  }
  return { leader, agentUrl: agent.url };
}

/** Gives the anonymous token (no token at all) a policy. */
export async function grantAnonymous(n: AclNode, name: string, rules: string): Promise<void> {
  const p = await call(n.url, "PUT", "/v1/acl/policy", n.management, { Name: name, Rules: rules });
  if (p.status !== 200) throw new Error(`policy ${name}: ${p.status}`);
  const t = await call(n.url, "PUT", `/v1/acl/token/${ANONYMOUS}`, n.management, { Description: "anonymous", Policies: [{ Name: name }] });
  if (t.status !== 200) throw new Error(`anonymous token: ${t.status} ${JSON.stringify(t.body)}`);
}

const ANONYMOUS = "00000000-0000-0000-0000-000000000002";
