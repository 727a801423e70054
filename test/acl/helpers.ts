// Shared by the ACL process tests: a dev node with ACLs on, bootstrapped,
// and small request helpers.
import { startCorral, getJson, type CorralProcess } from "../helpers/proc.ts";

export const ACL_CONFIG = `[plugins.authz]\nenabled = true\ndefault_policy = "deny"\naudit_flush_interval = "50ms"\n`;

export interface AclNode {
  proc: CorralProcess;
  url: string;
  management: string;
}

export async function startAclNode(extra = ""): Promise<AclNode> {
  const proc = await startCorral({ role: "dev", config: ACL_CONFIG + extra });
  const boot = await getJson(proc.url + "/v1/acl/bootstrap", { method: "PUT" });
  if (boot.status !== 200) throw new Error(`bootstrap failed: ${boot.status} ${JSON.stringify(boot.body)}`);
  return { proc, url: proc.url, management: boot.body.SecretID };
}

export function call(url: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  return getJson(url + path, {
    method,
    headers: { ...(token ? { "X-Consul-Token": token } : {}), ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Creates a policy and a token holding it; returns the token's secret and accessor. */
export async function tokenWith(n: AclNode, name: string, rules: string, serviceIdentities: string[] = []) {
  const p = await call(n.url, "PUT", "/v1/acl/policy", n.management, { Name: name, Rules: rules });
  if (p.status !== 200) throw new Error(`policy ${name}: ${p.status} ${JSON.stringify(p.body)}`);
  const t = await call(n.url, "PUT", "/v1/acl/token", n.management, {
    Description: name, Policies: [{ Name: name }], ServiceIdentities: serviceIdentities.map((s) => ({ ServiceName: s })),
  });
  if (t.status !== 200) throw new Error(`token ${name}: ${t.status} ${JSON.stringify(t.body)}`);
  return { secret: t.body.SecretID as string, accessor: t.body.AccessorID as string };
}

/** A concrete path for a route pattern: every parameter becomes `value`. */
export function samplePath(pattern: string, value = "x"): string {
  return pattern.replace(/\{(\w+)(\{[^}]*\})?\}/g, value);
}
