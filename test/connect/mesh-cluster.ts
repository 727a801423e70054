// A mesh cluster on one machine, as the mesh tests and bench/invoke-mesh.ts
// run it: a leader (the CA) on 127.0.0.1 and two agents advertising
// 127.0.0.2 and 127.0.0.3, every node with ACLs on (bootstrapped: the
// management token is returned) and `mesh = true` on one shared mesh port
// (a source agent reaches a destination at its catalog address and that
// port). Returns once both agents are in the catalog.
import { ACL_CONFIG } from "../acl/helpers.ts";
import { eventually, freePort, getJson, startCorral, type CorralProcess } from "../helpers/proc.ts";

export interface MeshCluster {
  leader: CorralProcess;
  /** Advertises 127.0.0.2. */
  a: CorralProcess;
  /** Advertises 127.0.0.3. */
  b: CorralProcess;
  management: string;
  meshPort: number;
}

export interface MeshClusterOptions {
  secret: string;
  /** The two agents' node names. */
  names: [string, string];
  /** Config put first on every node (e.g. `[plugins] enabled = [...]`). */
  prefix?: string;
  /** The agents' `[agent] heartbeat`; the default when absent. */
  heartbeat?: string;
  env?: Record<string, string>;
  agentEnv?: Record<string, string>;
  joinTimeoutMs?: number;
  /** More `[plugins.authz]` lines on every node (e.g. `token_ttl = "2s"`). */
  acl?: string;
}

export async function startMeshCluster(o: MeshClusterOptions): Promise<MeshCluster> {
  const meshPort = await freePort();
  const leaderPort = await freePort();
  const mesh = `[plugins.invoke]\nport = 0\nmesh = true\nmesh_port = ${meshPort}\n`;
  const leader = await startCorral({
    role: "leader", port: leaderPort, env: o.env,
    config: `${o.prefix ?? ""}[cluster]\nsecret = "${o.secret}"\n\n${ACL_CONFIG}${o.acl ?? ""}\n${mesh}`,
  });
  const management = (await getJson(`${leader.url}/v1/acl/bootstrap`, { method: "PUT" })).body.SecretID as string;
  const heartbeat = o.heartbeat ? `heartbeat = "${o.heartbeat}"\n` : "";
  const agent = (name: string, ip: string) => startCorral({
    role: "agent", env: { ...o.env, ...o.agentEnv },
    config: `${o.prefix ?? ""}[node]\nname = "${name}"\nadvertise = "${ip}"\n\n[cluster]\nsecret = "${o.secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\n${heartbeat}\n${ACL_CONFIG}${o.acl ?? ""}\n${mesh}`,
  });
  const a = await agent(o.names[0], "127.0.0.2");
  const b = await agent(o.names[1], "127.0.0.3");
  await eventually(async () => {
    const nodes = (await getJson<{ Node: string }[]>(`${leader.url}/v1/catalog/nodes`, { headers: { "x-consul-token": management } })).body;
    return Array.isArray(nodes) && o.names.every((n) => nodes.some((x) => x.Node === n));
  }, o.joinTimeoutMs ?? 15_000);
  return { leader, a, b, management, meshPort };
}
