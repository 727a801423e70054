// An agent answers cluster-wide reads as the leader does (issue 19, point 3).
// A Nomad or Consul user points a CLI at any agent: `nodes`, `jobs`, `raft
// list-peers` must show the cluster, not the agent's empty local copy. Every
// route that reads replicated state declares `leader: "read"` (or the older
// `stateRead: true`, which now means the same), and the Raft operator routes
// exist on an agent as forwards. A real leader and a real agent process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, freePort, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";

const SECRET = "agent-reads-secret-0123456789abcdef";
let leader: CorralProcess;
let agent: CorralProcess;

afterAll(killAll);

beforeAll(async () => {
  const leaderPort = await freePort();
  leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n` });
  agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "reads-agent"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n`,
  });
  await eventually(async () => (await getJson<{ name: string }[]>(`${leader.url}/v1/nodes`)).body.some((n) => n.name === "reads-agent"), 15_000);
  // Some state to read: a job no node can take (so nothing runs) and a key.
  const job = `id = "reads"\n[[constraints]]\nattribute = "\${attr.os.name}"\nvalue = "plan9"\n[[groups]]\nname = "g"\ncount = 1\n  [[groups.tasks]]\n  name = "t"\n  command = "/bin/true"\n  resources = { cpu = 100, memory = 100 }\n`;
  expect((await fetch(`${leader.url}/v1/jobs`, { method: "POST", headers: { "content-type": "application/toml" }, body: job })).status).toBe(200);
  expect((await fetch(`${leader.url}/v1/kv/reads/k`, { method: "PUT", body: "v" })).status).toBe(200);
}, 60_000);

/** Status and body; node entries lose the fields that change with every heartbeat. */
async function answer(base: string, path: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(base + path);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text, (k, v) => (/^(lastHeartbeat|lastSeen|sample|updatedAt|modifiedAt|lastContactMs|lastContactTicks)$/.test(k) ? undefined : v));
  } catch {}
  return { status: r.status, body };
}

describe("an agent answers cluster-wide reads as the leader does", () => {
  const paths = [
    "/v1/nodes", "/v1/node/reads-agent", "/v1/node/reads-agent/allocations",
    "/v1/jobs", "/v1/job/reads", "/v1/job/reads/evaluations", "/v1/job/reads/allocations", "/v1/job/reads/versions",
    "/v1/evaluations", "/v1/allocations", "/v1/deployments",
    "/v1/kv/reads/k", "/v1/kv/reads?recurse", "/v1/catalog/nodes", "/v1/catalog/services", "/v1/vars",
    "/v1/status/leader", "/v1/status/peers",
    "/v1/operator/raft/configuration", "/v1/operator/raft",
  ];
  for (const path of paths) {
    test(`GET ${path}`, async () => {
      const fromLeader = await answer(leader.url, path);
      expect(fromLeader.status, `the leader answers ${path}`).toBe(200);
      await eventually(async () => {
        const fromAgent = await answer(agent.url, path);
        return JSON.stringify(fromAgent) === JSON.stringify(await answer(leader.url, path)) || undefined;
      }, 5_000).catch(() => undefined);
      expect(await answer(agent.url, path)).toEqual(await answer(leader.url, path));
    });
  }

  // Every GET route without parameters, so a new route that reads the
  // cluster's state and declares no routing fails here by name. These answer
  // about the node asked, by design (Consul's and Nomad's agents do too).
  const NODE_LOCAL = new Set([
    "/metrics", "/v1/agent/metrics", "/v1/agent/self", "/v1/agent/services", "/v1/agent/checks", "/v1/agent/members",
    "/v1/healthz", "/v1/client/metadata", "/v1/openapi.json", "/v1/operator/routes", "/v1/plugins", "/v1/probe",
    "/v1/invoke-config", "/v1/ui/session", "/", "/ui", "/ui/",
    "/v1/events", // a stream: never ends
  ]);
  test("every parameterless GET route but the node-local ones", async () => {
    const routes = (await getJson<{ method: string; path: string; hidden: boolean }[]>(`${agent.url}/v1/operator/routes`)).body;
    const differ: string[] = [];
    for (const r of routes) {
      if (r.method !== "GET" || r.hidden || r.path.includes("{") || NODE_LOCAL.has(r.path)) continue;
      // Asked one after the other, a live answer (a node's latest sample, its heartbeat) may move in
      // between: asked again until the two agree, as the routes above are, within 5 s.
      let [a, l] = [await answer(agent.url, r.path), await answer(leader.url, r.path)];
      for (let t = 0; t < 50 && JSON.stringify(a) !== JSON.stringify(l); t++) {
        await Bun.sleep(100);
        [a, l] = [await answer(agent.url, r.path), await answer(leader.url, r.path)];
      }
      if (JSON.stringify(a) !== JSON.stringify(l)) differ.push(`GET ${r.path}: the agent answers ${a.status} ${JSON.stringify(a.body).slice(0, 120)}, the leader ${l.status} ${JSON.stringify(l.body).slice(0, 120)}: declare leader: "read"`);
    }
    expect(differ).toEqual([]);
  });

  test("a snapshot taken through an agent is the leader's", async () => {
    const r = await fetch(`${agent.url}/v1/snapshot`);
    expect(r.status).toBe(200);
    expect(r.headers.get("x-corral-index")).toMatch(/^\d+$/);
    expect(await r.text()).toContain("reads/k");
  });
});
