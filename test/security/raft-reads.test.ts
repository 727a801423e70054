// Issue 23, "reads you can trust": what a client (or an attacker setting
// headers) sees from a node that is not the leader, from a paused ex-leader,
// and from followers while the leader is dead. Real processes, real sockets.
import { afterAll, describe, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";
import { freePort, sleep, startCorral } from "../helpers/proc.ts";
import { CLUSTER_SECRET } from "../helpers/cluster.ts";
import { kvPut, kvRead, pause, resume, signedForwardHeaders, waitOtherLeader, waitReplicated } from "./helpers-raft-reads.ts";

const clusters: TestCluster[] = [];
afterAll(async () => {
  for (const c of clusters) {
    for (const n of c.nodes) if (n.proc) n.proc.child.kill("SIGCONT");
    await c.stop();
  }
});

async function cluster(direct = false): Promise<TestCluster> {
  const c = new TestCluster({ size: 3, electionTimeoutMs: 1000, heartbeatMs: 100, direct });
  clusters.push(c);
  await c.start();
  await c.waitLeader(30_000);
  return c;
}

/** A read that must not show `stale`: the current value, or a clean refusal. */
function expectNotStale(r: { status: number; value?: string | null; body: string }, stale: string, current: string) {
  if (r.status === 200) expect(r.value).toBe(current);
  else expect([503, 504]).toContain(r.status);
  expect(r.value).not.toBe(stale);
}

describe("forwarded reads", () => {
  test("an isolated follower that missed a write never answers ?consistent or default reads from its copy, whatever X-Corral-Forwarded says", async () => {
    const c = await cluster();
    const l = await c.leader();
    const f = (l + 1) % 3;
    const leader = c.nodes[l]!, follower = c.nodes[f]!;
    expect((await kvPut(leader.url, "fw", "old")).status).toBe(200);
    await waitReplicated(follower.url, "fw", "old");
    c.isolate(f);
    expect((await kvPut(leader.url, "fw", "new")).status).toBe(200);
    // The follower really is behind: ?stale (answered locally by design) shows the old value.
    expect((await kvRead(follower.url, "fw", "?stale")).value).toBe("old");

    // A client-set marker (the Jepsen finding) and a signed one alike.
    for (const query of ["?consistent", ""]) {
      const forged = await kvRead(follower.url, "fw", query, { "X-Corral-Forwarded": "1" });
      expectNotStale(forged, "old", "new");
      const signed = await kvRead(follower.url, "fw", query, signedForwardHeaders(follower.url, `/v1/kv/fw${query}`, 1));
      expectNotStale(signed, "old", "new");
    }
    c.heal();
  }, 90_000);

  test("a follower forwards reads to the leader, signed, and stops after the hop limit", async () => {
    const c = await cluster();
    const l = await c.leader();
    const f = (l + 1) % 3;
    expect((await kvPut(c.nodes[l]!.url, "hop", "v")).status).toBe(200);
    // One hop so far (an agent passed it on): the follower passes it to the leader.
    const ok = await kvRead(c.nodes[f]!.url, "hop", "?consistent", signedForwardHeaders(c.nodes[f]!.url, "/v1/kv/hop?consistent", 1));
    expect(ok.status).toBe(200);
    expect(ok.value).toBe("v");
    // Already three nodes deep: a follower answers 503 rather than from its copy or bouncing it on.
    const deep = await kvRead(c.nodes[f]!.url, "hop", "?consistent", signedForwardHeaders(c.nodes[f]!.url, "/v1/kv/hop?consistent", 3));
    expect(deep.status).toBe(503);
    // An unsigned count is a client's header: ignored, the read is served through the leader.
    const unsigned = await kvRead(c.nodes[f]!.url, "hop", "", { "X-Corral-Forwarded": "3" });
    expect(unsigned.status).toBe(200);
    expect(unsigned.value).toBe("v");
  }, 90_000);
});

describe("default reads and a paused leader", () => {
  test("a leader paused while another is elected and acknowledges a write does not answer the overwritten value when it resumes", async () => {
    const c = await cluster();
    for (let round = 0; round < 3; round++) {
      const old = `old-${round}`, current = `new-${round}`;
      const l = await c.waitLeader(30_000);
      expect((await kvPut(c.nodes[l]!.url, "lease", old)).status).toBe(200);
      // Its lease is fresh: a default read right now is answered from its state.
      expect((await kvRead(c.nodes[l]!.url, "lease", "")).value).toBe(old);
      pause(c, l);
      const l2 = await waitOtherLeader(c, l);
      expect((await kvPut(c.nodes[l2]!.url, "lease", current)).status).toBe(200);
      // Reads sent to the paused ex-leader wait in its socket until it resumes.
      const reads = [
        kvRead(c.nodes[l]!.url, "lease", ""),
        kvRead(c.nodes[l]!.url, "lease", "?consistent"),
        kvRead(c.nodes[l]!.url, "lease", "", signedForwardHeaders(c.nodes[l]!.url, "/v1/kv/lease", 1)),
      ];
      await sleep(100);
      resume(c, l);
      for (const r of await Promise.all(reads)) expectNotStale(r, old, current);
    }
  }, 180_000);
});

describe("a dead leader", () => {
  test("followers answer reads 503 (not 500) and writes 200 or 503 not-applied (not 504 outcome unknown)", async () => {
    const c = await cluster(true); // direct: peers connect straight to each other, a dead leader refuses connections
    const l = await c.leader();
    const f = (l + 1) % 3;
    const follower = c.nodes[f]!;
    expect((await kvPut(c.nodes[l]!.url, "dead", "v")).status).toBe(200);
    await waitReplicated(follower.url, "dead", "v");
    await c.kill(l);
    // Within an election timeout the follower still believes in the dead leader.
    const read = await kvRead(follower.url, "dead", "");
    expect(read.status).not.toBe(500);
    if (read.status !== 200) {
      expect(read.status).toBe(503);
      expect(read.body).toMatch(/LEADER_UNREACHABLE|NO_LEADER|leader/);
    } else expect(read.value).toBe("v");
    const write = await kvPut(follower.url, "dead", "w");
    const outcome = write.headers.get("X-Corral-Outcome");
    const text = await write.text();
    if (write.status !== 200) {
      expect({ status: write.status, outcome, text }).toMatchObject({ status: 503, outcome: "not-applied" });
    }
    expect(write.status).not.toBe(504);
  }, 90_000);
});

describe("an agent whose leaders are all down", () => {
  test("answers KV reads and writes 503, a write with X-Corral-Outcome: not-applied (not 500)", async () => {
    const dead = await freePort(); // nothing listens: every connection is refused
    const agent = await startCorral({ role: "agent", config: `[cluster]\nsecret = "${CLUSTER_SECRET}"\n[agent]\nleaders = ["127.0.0.1:${dead}"]\n` });
    try {
      const write = await fetch(`${agent.url}/v1/kv/a`, { method: "PUT", body: "v" });
      expect({ status: write.status, outcome: write.headers.get("X-Corral-Outcome") }).toEqual({ status: 503, outcome: "not-applied" });
      for (const q of ["", "?consistent"]) expect((await kvRead(agent.url, "a", q)).status).toBe(503);
    } finally {
      await agent.kill();
    }
  }, 60_000);
});
