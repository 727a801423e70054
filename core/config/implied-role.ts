// Which role a config file is written for, so that `corral config check FILE`
// checks what `corral <role> --config FILE` will check without being told.
// Pure: takes the parsed TOML and the environment (env overrides count: an
// agent's leaders often come from CORRAL_AGENT_LEADERS).
import { isTable } from "./introspect.ts";
import type { Role } from "./types.ts";

export interface ImpliedRole {
  role: Role;
  /** Why, for the `ok:` line: "agent.leaders is set". */
  reason: string;
}

export function impliedRole(raw: Record<string, unknown>, env: Record<string, string | undefined>): ImpliedRole {
  const agent = isTable(raw.agent) ? raw.agent : undefined;
  if ((Array.isArray(agent?.leaders) && agent.leaders.length > 0) || nonEmpty(env.CORRAL_AGENT_LEADERS)) {
    return { role: "agent", reason: "agent.leaders is set" };
  }
  if (isTable(raw.leader)) return { role: "leader", reason: "it has a [leader] table" };
  const cluster = isTable(raw.cluster) ? raw.cluster : undefined;
  if (nonEmpty(cluster?.secret) || nonEmpty(env.CORRAL_CLUSTER_SECRET)) return { role: "leader", reason: "cluster.secret is set" };
  // Neither leaders to join nor a secret: only `corral dev` starts on this.
  return { role: "dev", reason: "it sets neither agent.leaders nor cluster.secret" };
}

function nonEmpty(v: unknown): boolean {
  return typeof v === "string" && v.trim() !== "";
}
