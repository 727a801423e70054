// Authorization across processes: a peer with the wrong cluster secret can
// neither join nor disturb a 3-leader cluster; an agent with the wrong secret
// is refused (joins: test/cluster/membership.test.ts; here its ACL and
// forwarding RPC too); an agent with the right one enforces ACLs with tokens
// resolved by the leader, cached for token_ttl.
import { afterAll, describe, expect, test } from "bun:test";
import { TestCluster, CLUSTER_SECRET } from "../helpers/cluster.ts";
import { eventually, freePort, getJson, killAll, signedPost, sleep, startCorral } from "../helpers/proc.ts";
import { hashSecret } from "../../core/acl/secret.ts";
import { ACL_CONFIG, call, startAclNode, tokenWith } from "./helpers.ts";

afterAll(() => killAll());

async function raftView(url: string) {
  return (await getJson(url + "/v1/operator/raft", { signal: AbortSignal.timeout(2000) })).body as { term: number; leader: string; members: { address: string }[] };
}

describe("peers", () => {
  test("a leader with the wrong secret cannot join, vote, or move the term", async () => {
    const cluster = new TestCluster({ size: 3, direct: true });
    try {
      await cluster.start();
      const leader = await cluster.waitLeader();
      await sleep(500);
      const before = await raftView(cluster.nodes[leader]!.url);
      const port = await freePort();
      const rogue = await startCorral({
        role: "leader", port,
        config: [
          `[node]\nname = "rogue"\nadvertise = "127.0.0.1:${port}"`,
          `[cluster]\nsecret = "not-the-cluster-secret-000"`,
          `[leader]\npeers = [${cluster.nodes.map((n) => `"${n.address}"`).join(", ")}]\nelection_timeout = "300ms"\nheartbeat_interval = "50ms"`,
        ].join("\n\n"),
      });
      await sleep(3_000); // ten of the rogue's election timeouts
      for (const n of cluster.nodes) {
        const v = await raftView(n.url);
        expect(v.term).toBe(before.term);
        expect(v.leader).toBe(before.leader);
        expect(v.members.map((m) => m.address)).not.toContain(`127.0.0.1:${port}`);
      }
      expect((await raftView(rogue.url)).leader ?? null).toBeNull();
      // Its messages and its RPC are refused outright.
      const vote = { from: `127.0.0.1:${port}`, messages: [{ type: "RequestVote", from: `127.0.0.1:${port}`, to: before.leader, term: before.term + 100 }] };
      expect((await signedPost(cluster.nodes[leader]!.url, "/v1/raft/message", "not-the-cluster-secret-000", vote)).status).toBe(401);
      expect((await signedPost(cluster.nodes[leader]!.url, "/v1/raft/message", CLUSTER_SECRET, { from: "x", messages: [] })).status).toBe(204);
      expect((await raftView(cluster.nodes[leader]!.url)).term).toBe(before.term);
      await rogue.kill();
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});

describe("followers", () => {
  test("a follower enforces with its replicated copy: new and deleted tokens take effect there too", async () => {
    const cluster = new TestCluster({ size: 3, direct: true, extra: ACL_CONFIG });
    try {
      await cluster.start();
      // Bootstrap through any node (a follower forwards it) once a leader exists; then find the leader with the token.
      const boot = await eventually(async () => {
        const r = await getJson(cluster.nodes[0]!.url + "/v1/acl/bootstrap", { method: "PUT" });
        return r.status === 200 ? r : undefined;
      }, 15_000);
      const management = boot.body.SecretID as string;
      const li = await eventually(async () => {
        for (const node of cluster.nodes) if ((await call(node.url, "GET", "/v1/operator/raft", management)).body?.role === "leader") return node.index + 1;
        return undefined;
      }, 10_000) - 1;
      const leaderUrl = cluster.nodes[li]!.url;
      const followerUrl = cluster.nodes[(li + 1) % 3]!.url;
      const n = { proc: cluster.nodes[li]!.proc!, url: leaderUrl, management };
      const t = await tokenWith(n, "f", 'key_prefix "f/" { policy = "write" }');
      await eventually(async () => (await call(followerUrl, "PUT", "/v1/kv/f/1", t.secret, "1")).status === 200, 5_000);
      expect((await call(followerUrl, "PUT", "/v1/kv/g/1", t.secret, "1")).status).toBe(403);
      expect((await call(followerUrl, "GET", "/v1/kv/f/1?stale", t.secret)).status).toBe(200);
      // A default read through a follower goes to the leader, signed: the leader cuts it to the
      // client's token (X-Corral-Client-Read), not to the follower's trust in its own signature.
      expect((await call(leaderUrl, "PUT", "/v1/kv/secret/1", management, "hidden-value")).status).toBe(200);
      for (const path of ["/v1/kv/?recurse", "/v1/kv/?recurse&raw", "/v1/kv/?keys", "/v1/kv/secret/1", "/v1/kv/secret/1?raw"]) {
        for (const token of [t.secret, undefined]) {
          const r = await call(followerUrl, "GET", path, token);
          expect(JSON.stringify(r.body ?? null), `${path} via a follower`).not.toContain("secret/1");
          expect(JSON.stringify(r.body ?? null), `${path} via a follower`).not.toContain(Buffer.from("hidden-value").toString("base64"));
          expect(JSON.stringify(r.body ?? null), `${path} via a follower`).not.toContain("hidden-value");
        }
      }
      await call(leaderUrl, "DELETE", `/v1/acl/token/${t.accessor}`, n.management);
      await eventually(async () => (await call(followerUrl, "PUT", "/v1/kv/f/2", t.secret, "1")).status === 403, 5_000);
      for (const node of cluster.nodes) expect(node.proc!.output()).not.toContain(t.secret);
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});

describe("agents", () => {
  test("wrong secret: no token lookups, no proposals, no forwarded requests trusted", async () => {
    const n = await startAclNode();
    const wrong = "wrong-secret-0123456789";
    expect((await signedPost(n.url, "/v1/cluster/acl/resolve", wrong, { secretHash: hashSecret(n.management) })).status).toBe(401);
    expect((await signedPost(n.url, "/v1/cluster/propose", wrong, { type: "KVSet", v: 1, at: 1, key: "x", value: "" })).status).toBe(401);
    // A "forwarded" request signed with the wrong secret is an ordinary anonymous one.
    const { signRequest, SIGNATURE_HEADER } = await import("../../core/http/middleware/cluster-auth.ts");
    const forged = await getJson(n.url + "/v1/kv/forged", { method: "PUT", body: "1", headers: { [SIGNATURE_HEADER]: signRequest({ secret: wrong, node: "forger" }, "PUT", "/v1/kv/forged", "1", { to: new URL(n.url).host }) } });
    expect(forged.status).toBe(403);
    const secret = (await import("../helpers/proc.ts")).devSecretOf(n.proc.dataDir);
    const right = await getJson(n.url + "/v1/kv/signed", { method: "PUT", body: "1", headers: { [SIGNATURE_HEADER]: signRequest({ secret, node: "test-node" }, "PUT", "/v1/kv/signed", "1", { to: new URL(n.url).host }) } });
    expect(right.status).toBe(200);
    // The grant an agent gets carries rules, never a secret or its hash.
    const grant = await signedPost(n.url, "/v1/cluster/acl/resolve", secret, { secretHash: hashSecret(n.management) });
    expect(grant.body.token.policies[0].id).toBe("00000000-0000-0000-0000-000000000001");
    expect(JSON.stringify(grant.body)).not.toContain(hashSecret(n.management));
    await n.proc.kill();
  }, 30_000);

  test("an agent enforces with tokens from the leader, forwards signed, caches for token_ttl", async () => {
    const leaderPort = await freePort();
    const secret = "acl-agent-test-secret-0123";
    const leader = await startCorral({ role: "leader", port: leaderPort, config: `[cluster]\nsecret = "${secret}"\n\n${ACL_CONFIG}` });
    const boot = await getJson(leader.url + "/v1/acl/bootstrap", { method: "PUT" });
    const n = { proc: leader, url: leader.url, management: boot.body.SecretID as string };
    const t = await tokenWith(n, "agent-app", 'key_prefix "app/" { policy = "write" }\nservice "web" { policy = "write" }');
    const agent = await startCorral({
      role: "agent",
      config: `[node]\nname = "agent-acl"\n\n[cluster]\nsecret = "${secret}"\n\n[agent]\nleaders = ["127.0.0.1:${leaderPort}"]\nheartbeat = "300ms"\n\n${ACL_CONFIG}token_ttl = "1s"\n`,
    });
    await eventually(async () => (await getJson(leader.url + "/v1/nodes?token=" + n.management)).body.length === 1, 15_000);
    // Forwarded KV writes: checked on the agent, trusted by the leader through the signature.
    expect((await call(agent.url, "PUT", "/v1/kv/app/a", t.secret, "1")).status).toBe(200);
    expect((await call(agent.url, "PUT", "/v1/kv/other", t.secret, "1")).status).toBe(403);
    expect((await call(agent.url, "PUT", "/v1/kv/app/a", undefined, "1")).status).toBe(403);
    expect((await call(agent.url, "PUT", "/v1/kv/app/a", "forged-token", "1")).body).toBe("ACL not found");
    // Agent-local endpoints: the registration belongs to the agent.
    expect((await call(agent.url, "PUT", "/v1/agent/service/register", t.secret, { ID: "web-9", Name: "web", Port: 80 })).status).toBe(200);
    expect((await call(agent.url, "PUT", "/v1/agent/service/register", t.secret, { ID: "db-9", Name: "db", Port: 80 })).status).toBe(403);
    expect((await call(agent.url, "GET", "/v1/kv/app/a", t.secret)).status).toBe(200); // write implies read
    expect((await call(agent.url, "GET", "/v1/kv/other", t.secret)).status).toBe(403);
    // A deleted token works on the agent until its cached answer expires.
    await call(leader.url, "DELETE", `/v1/acl/token/${t.accessor}`, n.management);
    expect((await call(leader.url, "PUT", "/v1/kv/app/a", t.secret, "1")).status).toBe(403);
    await eventually(async () => (await call(agent.url, "PUT", "/v1/kv/app/b", t.secret, "1")).status === 403, 5_000);
    // Audit: the agent recorded the writes it received (the leader skipped the signed copies).
    const records = await eventually(async () => {
      const r = await call(leader.url, "GET", "/v1/audit?path=/v1/kv/app/a", n.management);
      return r.body.length >= 2 ? r.body : undefined;
    }, 5_000);
    type Rec = { node: string; status: number };
    const fromAgent = records.filter((r: Rec) => r.node === "agent-acl").map((r: Rec) => r.status).sort();
    expect(fromAgent).toEqual([200, 403, 403]); // the token's write, anonymous, forged
    // The leader recorded only the write made on it directly, not the agent's forwarded copy.
    expect(records.filter((r: Rec) => r.node !== "agent-acl").map((r: Rec) => r.status)).toEqual([403]);
    for (const p of [leader, agent]) expect(p.output()).not.toContain(t.secret);
    await agent.kill();
    await leader.kill();
  }, 60_000);
});
