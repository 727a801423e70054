// Shared by test/security/writes.test.ts: a dev node and a leader + agent
// pair, ACLs on with default deny, bootstrapped; narrow tokens; small calls.
import { join } from "node:path";
import { eventually, freePort, getJson, startCorral, tempDir, type CorralProcess } from "../helpers/proc.ts";

export const ACL = `[plugins.authz]\nenabled = true\ndefault_policy = "deny"\naudit_flush_interval = "50ms"\ntoken_ttl = "1s"\n`;
export const SECRET = "sec-writes-test-secret-0123456789";

export interface Node {
  proc: CorralProcess;
  url: string;
  management: string;
}

export async function bootstrap(proc: CorralProcess): Promise<Node> {
  const boot = await eventually(async () => {
    const r = await getJson(proc.url + "/v1/acl/bootstrap", { method: "PUT" });
    return r.status === 200 ? r : undefined;
  }, 15_000);
  return { proc, url: proc.url, management: boot.body.SecretID as string };
}

export async function startDev(): Promise<Node> {
  return bootstrap(await startCorral({ role: "dev", config: ACL }));
}

/** A leader and one agent (exec on, so jobs run on the agent), both enforcing ACLs. */
export async function startPair(agentName: string): Promise<{ leader: Node; agent: CorralProcess; agentNodeId: string }> {
  const plugins = `[plugins]\nenabled = ["probe", "discovery", "exec", "authz"]\nwatch = false\n`;
  const leader = await bootstrap(await startCorral({
    role: "leader", config: `[cluster]\nsecret = "${SECRET}"\n\n[raft]\nsync = "normal"\n\n${plugins}\n${ACL}`,
  }));
  const agent = await startCorral({
    role: "agent", port: await freePort(), dataDir: join(tempDir(), "agent-data"),
    config: [
      `[node]\nname = "${agentName}"`, `[cluster]\nsecret = "${SECRET}"`, `[agent]\nleaders = ["127.0.0.1:${leader.proc.port}"]\nheartbeat = "300ms"`,
      plugins, `[plugins.probe]\ncpu_total_mhz = 2000\nmemory_total_mb = 2048`, `[plugins.exec]\nkill_timeout = "1s"`, ACL,
    ].join("\n\n"),
  });
  const node = await eventually(async () => {
    const r = await call(leader.url, "GET", "/v1/nodes", leader.management);
    return (r.body as any[]).find((n) => n.name === agentName && n.status === "ready");
  }, 20_000);
  return { leader, agent, agentNodeId: node.id as string };
}

/** A request; `body` as given when a string (raw JSON with duplicate keys), else JSON. */
export function call(url: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  return getJson(url + path, {
    method,
    headers: { ...(token ? { "X-Consul-Token": token } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A policy with `rules` and a token holding it; the token's secret. */
export async function token(n: Node, name: string, rules: string): Promise<string> {
  const p = await call(n.url, "PUT", "/v1/acl/policy", n.management, { Name: name, Rules: rules });
  if (p.status !== 200) throw new Error(`policy ${name}: ${p.status} ${JSON.stringify(p.body)}`);
  const t = await call(n.url, "PUT", "/v1/acl/token", n.management, { Description: name, Policies: [{ Name: name }] });
  if (t.status !== 200) throw new Error(`token ${name}: ${t.status} ${JSON.stringify(t.body)}`);
  return t.body.SecretID as string;
}

/** Asserts a 2xx, with the answer in the failure message. */
export async function ok(p: Promise<{ status: number; body: unknown }>): Promise<any> {
  const r = await p;
  if (r.status < 200 || r.status > 299) throw new Error(`expected 2xx, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
