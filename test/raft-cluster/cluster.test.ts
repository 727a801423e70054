// Three leader-role processes replicate through Raft over HTTP: writes
// through any node, read consistency modes, failover after kill -9, restart
// and catch-up (through a snapshot once the log was compacted), a partition
// through the proxies, membership changes, backup and restore.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { getJson, sleep, eventually, startCorral, freePort, tempDir } from "../helpers/proc.ts";
import { join } from "node:path";

const ELECTION_MS = 1000;
let c: TestCluster;

beforeAll(async () => {
  c = new TestCluster({ size: 3, electionTimeoutMs: ELECTION_MS, snapshotThreshold: 64 });
  await c.start();
  await c.waitLeader();
}, 60_000);
afterAll(() => c?.stop());

const put = (url: string, key: string, value: string, q = "") =>
  fetch(`${url}/v1/kv/${key}${q}`, { method: "PUT", body: value, signal: AbortSignal.timeout(5000) });
const value = async (url: string, key: string, q = "") => {
  const r = await getJson<any[]>(`${url}/v1/kv/${key}${q}`);
  return r.status === 200 ? Buffer.from(r.body[0].Value ?? "", "base64").toString() : null;
};
const live = () => c.nodes.filter((n) => n.proc);

describe("3 leader-role processes", () => {
  test("one leader; writes through any node; every node applies them", async () => {
    const leader = await c.waitLeader();
    const statuses = await Promise.all(c.nodes.map((n) => getJson(n.url + "/v1/operator/raft")));
    expect(statuses.filter((s) => s.body.role === "leader")).toHaveLength(1);
    expect(statuses.every((s) => s.body.members.length === 3)).toBe(true);
    for (const n of c.nodes) expect(await (await put(n.url, `from/${n.index}`, `v${n.index}`)).json()).toBe(true);
    // Default reads go to the leader; ?stale reads converge on every node.
    for (const n of c.nodes) for (const m of c.nodes) expect(await value(n.url, `from/${m.index}`)).toBe(`v${m.index}`);
    for (const n of c.nodes) await eventually(async () => (await value(n.url, "from/2", "?stale")) === "v2", 2000);
    expect(await value(c.nodes[leader]!.url, "from/1", "?consistent")).toBe("v1");
    const peers = (await getJson(c.nodes[0]!.url + "/v1/status/peers")).body;
    expect([...peers].sort()).toEqual(c.nodes.map((n) => n.address).sort());
    expect((await getJson(c.nodes[0]!.url + "/v1/status/leader")).body).toBe(c.nodes[leader]!.address);
  }, 30_000);

  test("kill -9 the leader: a new leader serves writes within a few election timeouts; the old one catches up on restart", async () => {
    for (let round = 0; round < 2; round++) {
      const old = await c.waitLeader();
      await put(c.nodes[old]!.url, "before-kill", String(round));
      await c.kill(old);
      const killedAt = Date.now();
      const survivor = live()[0]!;
      // Writes through a survivor succeed as soon as a new leader exists.
      let wroteAt = 0;
      while (!wroteAt) {
        const r = await put(survivor.url, `after-kill/${round}`, "x").catch(() => undefined);
        if (r?.status === 200 && (await r.json()) === true) wroteAt = Date.now();
        else await sleep(10);
        if (Date.now() - killedAt > 10_000) throw new Error("no new leader within 10 s");
      }
      const failoverMs = wroteAt - killedAt;
      console.log(`failover round ${round}: ${failoverMs} ms`);
      // bench/failover.ts measures the distribution (20 kills, all within 2x the
      // election timeout on a quiet machine); here, on a loaded CI machine,
      // timers run late, so the bound only catches a failover that hangs.
      expect(failoverMs).toBeLessThan(4 * ELECTION_MS);
      expect(await value(survivor.url, "before-kill")).toBe(String(round));
      await c.startNode(old);
      await eventually(async () => (await value(c.nodes[old]!.url, `after-kill/${round}`, "?stale")) === "x", 10_000);
    }
  }, 60_000);

  test("a follower restarted after compaction catches up through a snapshot", async () => {
    const leader = await c.waitLeader();
    const follower = c.nodes.find((n) => n.index !== leader)!;
    await c.kill(follower.index);
    for (let i = 0; i < 150; i++) await put(c.nodes[leader]!.url, `bulk/${i}`, String(i));
    const ls = (await getJson(c.nodes[leader]!.url + "/v1/operator/raft")).body;
    expect(ls.snapshotIndex).toBeGreaterThan(0);
    await c.startNode(follower.index);
    await eventually(async () => (await value(follower.url, "bulk/149", "?stale")) === "149", 10_000);
    const fs = (await getJson(follower.url + "/v1/operator/raft")).body;
    expect(fs.snapshotIndex).toBeGreaterThan(0);
    expect(await value(follower.url, "bulk/3", "?stale")).toBe("3");
    expect(c.nodes[follower.index]!.proc!.output()).toContain("installed snapshot");
  }, 60_000);

  test("an isolated leader loses leadership; the majority goes on; healing converges", async () => {
    const old = await c.waitLeader();
    c.isolate(old);
    const others = c.nodes.filter((n) => n.index !== old);
    const newLeader = await eventually(async () => {
      for (const n of others) if ((await getJson(n.url + "/v1/operator/raft")).body.role === "leader") return n;
      return undefined;
    }, 5 * ELECTION_MS);
    expect(await (await put(newLeader.url, "during-partition", "majority")).json()).toBe(true);
    // The isolated node cannot commit: a write through it fails instead of being acknowledged.
    const minority = await put(c.nodes[old]!.url, "minority-write", "lost").catch(() => undefined);
    expect(minority?.status === 200 && (await minority.json()) === true).toBe(false);
    c.heal();
    await eventually(async () => (await value(c.nodes[old]!.url, "during-partition", "?stale")) === "majority", 10_000);
    const roles = await Promise.all(c.nodes.map(async (n) => (await getJson(n.url + "/v1/operator/raft")).body.role));
    expect(roles.filter((r) => r === "leader")).toHaveLength(1);
  }, 60_000);

  test("membership: add a fourth leader-role node, then remove it", async () => {
    const port = await freePort();
    const dataDir = join(tempDir(), "n3");
    const leader = c.nodes[await c.waitLeader()]!;
    const peers = c.nodes.map((n) => `"${n.address}"`).join(", ");
    const extra = await startCorral({
      role: "leader", port, dataDir,
      config: `[cluster]\nsecret = "cluster-test-secret-0123456789"\n[leader]\npeers = [${peers}]\n[raft]\njoin = true\n`,
    });
    const address = `127.0.0.1:${port}`;
    const added = await getJson(leader.url + "/v1/operator/raft/peers", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ address }) });
    expect(added.status).toBe(200);
    await eventually(async () => (await value(extra.url, "from/0", "?stale")) === "v0", 10_000);
    expect((await getJson(leader.url + "/v1/operator/raft")).body.members).toHaveLength(4);
    const removed = await getJson(`${leader.url}/v1/operator/raft/peers/${encodeURIComponent(address)}`, { method: "DELETE" });
    expect(removed.status).toBe(200);
    expect((await getJson(leader.url + "/v1/operator/raft")).body.members).toHaveLength(3);
    await extra.kill();
  }, 60_000);

  test("transfer leadership on request", async () => {
    const old = await c.waitLeader();
    const r = await getJson(c.nodes[old]!.url + "/v1/operator/raft/transfer-leader", { method: "POST" });
    expect(r.status).toBe(200);
    const now = await c.waitLeader();
    expect(now).not.toBe(old);
  }, 30_000);

  test("snapshot save and restore round-trip", async () => {
    const leader = c.nodes[await c.waitLeader()]!;
    await put(leader.url, "backup/key", "before");
    const saved = await fetch(leader.url + "/v1/snapshot");
    expect(saved.status).toBe(200);
    const data = await saved.text();
    await put(leader.url, "backup/key", "after");
    await put(leader.url, "backup/new", "added later");
    const restored = await fetch(leader.url + "/v1/snapshot", { method: "PUT", body: data, headers: { "content-type": "application/json" } });
    expect(restored.status).toBe(200);
    for (const n of c.nodes) {
      await eventually(async () => (await value(n.url, "backup/key", "?stale")) === "before", 5000);
      expect(await value(n.url, "backup/new", "?stale")).toBeNull();
    }
    const bad = await fetch(leader.url + "/v1/snapshot", { method: "PUT", body: "not a snapshot", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
  }, 30_000);
});
