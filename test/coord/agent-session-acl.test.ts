// Session ACLs on an agent: destroy, renew and info name a session by id,
// and the rule that decides them is the session's node's. An agent holds no
// state, so it must learn that node from a leader (core/acl/facts.ts)
// instead of deciding against the empty node name. Two sides of the same bug:
// - a narrow token (`session "node-a" { policy = "write" }`) that owns
//   node-a's sessions was refused on node-a's own agent (it matched "");
// - a broad token with a narrow deny (`session_prefix ""` write, `session
//   "node-a"` deny) destroyed node-a's sessions through any agent, which
//   the leader refuses.
// Both are asked through the agent and through the leader: the answers must agree.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually, freePort, getJson, killAll, startCorral, type CorralProcess } from "../helpers/proc.ts";
import { ACL_CONFIG, call, tokenWith } from "../acl/helpers.ts";

const SECRET = "agent-session-acl-secret-0123";
let leader: CorralProcess;
let agent: CorralProcess;
let management = "";
let owner = "";
let denied = "";

afterAll(killAll);
beforeAll(async () => {
  const leaderPort = await freePort();
  leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${SECRET}"\n\n${ACL_CONFIG}` });
  management = (await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" })).body.SecretID as string;
  agent = await startCorral({
    role: "agent",
    config: `[node]\nname = "node-a"\n\n[cluster]\nsecret = "${SECRET}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}token_ttl = "1s"\n`,
  });
  await eventually(async () => (await call(leader.url, "GET", "/v1/catalog/nodes", management)).body?.some?.((n: { Node: string }) => n.Node === "node-a"), 15_000);
  const n = { proc: leader, url: leader.url, management };
  owner = (await tokenWith(n, "node-a-sessions", `session "node-a" { policy = "write" }`)).secret;
  denied = (await tokenWith(n, "all-but-node-a", `session_prefix "" { policy = "write" }\nsession "node-a" { policy = "deny" }`)).secret;
}, 60_000);

/** A session on node-a, made with the management token through the leader. */
async function nodeASession(): Promise<string> {
  const r = await call(leader.url, "PUT", "/v1/session/create", management, { Node: "node-a", Name: "a", LockDelay: "0s" });
  expect(r.status).toBe(200);
  return r.body.ID as string;
}

const exists = async (id: string) => ((await call(leader.url, "GET", `/v1/session/info/${id}`, management)).body as unknown[]).length === 1;

describe("session ACLs decided on an agent", () => {
  test("a token that owns node-a's sessions may renew, read and destroy them through node-a's agent", async () => {
    // Created through the agent: Node defaults to the agent's own name.
    const created = await call(agent.url, "PUT", "/v1/session/create", owner, { Name: "mine", TTL: "30s", LockDelay: "0s" });
    expect(created.status).toBe(200);
    const id = created.body.ID as string;
    for (const url of [leader.url, agent.url]) {
      const info = await call(url, "GET", `/v1/session/info/${id}`, owner);
      expect(info.status).toBe(200);
      expect(info.body[0].Node).toBe("node-a");
      expect((await call(url, "PUT", `/v1/session/renew/${id}`, owner)).status).toBe(200);
    }
    expect((await call(agent.url, "PUT", `/v1/session/destroy/${id}`, owner)).status).toBe(200);
    expect(await exists(id)).toBe(false);
  }, 30_000);

  test("a deny on node-a holds on the agent as on the leader: no destroy, renew or info of its sessions", async () => {
    const id = await nodeASession();
    for (const url of [leader.url, agent.url]) {
      expect((await call(url, "PUT", `/v1/session/destroy/${id}`, denied)).status).toBe(403);
      expect((await call(url, "PUT", `/v1/session/renew/${id}`, denied)).status).toBe(403);
      expect((await call(url, "GET", `/v1/session/info/${id}`, denied)).status).toBe(403);
    }
    expect(await exists(id)).toBe(true);
    // The same token still manages sessions of other nodes through the agent (the leader's own node).
    const self = (await call(leader.url, "GET", "/v1/agent/self", management)).body.Config.NodeName as string;
    const other = await call(leader.url, "PUT", "/v1/session/create", denied, { Name: "other" });
    expect(other.status).toBe(200);
    expect((await call(agent.url, "GET", `/v1/session/info/${other.body.ID}`, denied)).body[0].Node).toBe(self);
    expect((await call(agent.url, "PUT", `/v1/session/destroy/${other.body.ID}`, denied)).status).toBe(200);
  }, 30_000);

  test("an unknown session id is decided as the leader decides it, not as a free pass", async () => {
    const missing = "00000000-0000-0000-0000-00000000dead";
    for (const url of [leader.url, agent.url]) {
      expect((await call(url, "PUT", `/v1/session/destroy/${missing}`, owner)).status).toBe(403);
      expect((await call(url, "PUT", `/v1/session/renew/${missing}`, denied)).status).toBe(404);
    }
  }, 30_000);
});
